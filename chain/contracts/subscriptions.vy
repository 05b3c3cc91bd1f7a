# pragma version ~=0.4.3
# pragma evm-version shanghai
"""
@title HarmonieCORE supporter subscriptions
@notice An artist offers up to 5 tiers (a name and a price per 30 days). A fan subscribes,
        or renews, for N periods in one payment, which is credited to the artist's split at
        once (pull payments, as tips). Cancelling ends the subscription at the end of the
        current period; nothing is refunded (periods bought ahead included).
"""

import payouts

initializes: payouts

exports: (
    payouts.withdraw,
    payouts.balances,
    payouts.owed_total,
    payouts.splits,
)

MAX_TIERS: constant(uint256) = 5
MAX_NAME: constant(uint256) = 64
MAX_PERIODS: constant(uint256) = 120
PERIOD: constant(uint256) = 30 * 86400


struct Tier:
    name: String[MAX_NAME]
    price: uint256


struct Subscription:
    tier: uint256
    started: uint256
    active_until: uint256


event TiersChanged:
    artist: indexed(address)
    names: DynArray[String[MAX_NAME], MAX_TIERS]
    prices: DynArray[uint256, MAX_TIERS]


event Subscribed:
    fan: indexed(address)
    artist: indexed(address)
    tier: uint256
    periods: uint256
    amount: uint256
    active_until: uint256


event Renewed:
    fan: indexed(address)
    artist: indexed(address)
    tier: uint256
    periods: uint256
    amount: uint256
    active_until: uint256


event Cancelled:
    fan: indexed(address)
    artist: indexed(address)
    active_until: uint256


_tiers: HashMap[address, DynArray[Tier, MAX_TIERS]]
# fan -> artist -> subscription
subscriptions: public(HashMap[address, HashMap[address, Subscription]])


@deploy
def __init__(splits_: address):
    payouts.__init__(splits_)


@external
@pure
def period() -> uint256:
    return PERIOD


@external
def set_tiers(names: DynArray[String[MAX_NAME], MAX_TIERS], prices: DynArray[uint256, MAX_TIERS]):
    """
    @notice Replace the caller's tiers. Each has a name and a price above zero per 30 days.
            Running subscriptions keep their end date.
    """
    assert len(names) == len(prices), "subscriptions: names and prices differ in length"
    tiers: DynArray[Tier, MAX_TIERS] = []
    for i: uint256 in range(MAX_TIERS):
        if i == len(names):
            break
        assert len(names[i]) > 0, "subscriptions: a tier needs a name"
        assert prices[i] > 0, "subscriptions: a price must be more than zero"
        tiers.append(Tier(name=names[i], price=prices[i]))
    self._tiers[msg.sender] = tiers
    log TiersChanged(artist=msg.sender, names=names, prices=prices)


@external
@view
def tiers_of(artist: address) -> DynArray[Tier, MAX_TIERS]:
    return self._tiers[artist]


@external
@view
def active_until(fan: address, artist: address) -> uint256:
    """@notice When `fan`'s support of `artist` ends (a timestamp; in the past: not a supporter)."""
    return self.subscriptions[fan][artist].active_until


@external
@payable
@nonreentrant
def subscribe(artist: address, tier: uint256, periods: uint256):
    """
    @notice Subscribe to `artist` at `tier` for `periods` periods of 30 days, paying the
            tier's price times `periods`. While a subscription runs this renews it: the
            same tier, the new periods added at its end.
    """
    assert msg.sender != artist, "subscriptions: an artist cannot subscribe to themselves"
    tiers: DynArray[Tier, MAX_TIERS] = self._tiers[artist]
    assert tier < len(tiers), "subscriptions: the artist has no such tier"
    assert periods > 0 and periods <= MAX_PERIODS, "subscriptions: between 1 and 120 periods"
    assert msg.value == tiers[tier].price * periods, "subscriptions: send exactly the tier's price times the periods"

    sub: Subscription = self.subscriptions[msg.sender][artist]
    if sub.active_until > block.timestamp:
        assert sub.tier == tier, "subscriptions: renew on your current tier until it ends"
        sub.active_until += periods * PERIOD
        self.subscriptions[msg.sender][artist] = sub
        log Renewed(fan=msg.sender, artist=artist, tier=tier, periods=periods, amount=msg.value, active_until=sub.active_until)
    else:
        sub = Subscription(tier=tier, started=block.timestamp, active_until=block.timestamp + periods * PERIOD)
        self.subscriptions[msg.sender][artist] = sub
        log Subscribed(fan=msg.sender, artist=artist, tier=tier, periods=periods, amount=msg.value, active_until=sub.active_until)
    payouts._pay_split(artist, msg.value)


@external
def cancel(artist: address):
    """@notice End the caller's subscription to `artist` at the end of the current period."""
    sub: Subscription = self.subscriptions[msg.sender][artist]
    assert sub.active_until > block.timestamp, "subscriptions: no running subscription"
    current_end: uint256 = sub.started + ((block.timestamp - sub.started) // PERIOD + 1) * PERIOD
    sub.active_until = min(sub.active_until, current_end)
    self.subscriptions[msg.sender][artist] = sub
    log Cancelled(fan=msg.sender, artist=artist, active_until=sub.active_until)
