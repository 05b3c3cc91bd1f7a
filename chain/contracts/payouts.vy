# pragma version ~=0.4.3
# pragma evm-version shanghai
"""
@title HarmonieCORE payouts
@notice The pull-payment ledger of the marketplace and the subscriptions: money owed to a
        payee accrues as a balance the payee withdraws itself. An artist's income is split
        by the artist's split as set in the tipping contract (the same rule as tips: basis
        points, the last payee takes the rounding rest, all to the artist when no split).
"""

MAX_PAYEES: constant(uint256) = 16
TOTAL_BPS: constant(uint256) = 10_000


interface Splits:
    def split_of(artist: address) -> (DynArray[address, MAX_PAYEES], DynArray[uint256, MAX_PAYEES]): view


event Credited:
    payee: indexed(address)
    artist: indexed(address)
    amount: uint256


event Withdrawn:
    payee: indexed(address)
    amount: uint256


# payee -> amount they can withdraw
balances: public(HashMap[address, uint256])
# sum of all balances: the contract holds exactly this much
owed_total: public(uint256)
# the tipping contract, where each artist's split is set
splits: public(address)


@deploy
def __init__(splits_: address):
    assert splits_ != empty(address), "payouts: splits contract is the zero address"
    self.splits = splits_


@external
@nonreentrant
def withdraw():
    """
    @notice Send the caller everything owed to them. The balance is cleared before the
            transfer and the function is non-reentrant.
    """
    amount: uint256 = self.balances[msg.sender]
    assert amount > 0, "payouts: nothing to withdraw"
    self.balances[msg.sender] = 0
    self.owed_total -= amount
    raw_call(msg.sender, b"", value=amount)
    log Withdrawn(payee=msg.sender, amount=amount)


@internal
def _credit(payee: address, artist: address, amount: uint256):
    if amount == 0:
        return
    self.balances[payee] += amount
    self.owed_total += amount
    log Credited(payee=payee, artist=artist, amount=amount)


@internal
def _pay_split(artist: address, amount: uint256):
    """Credit `amount` to `artist`'s split; no wei is lost or created."""
    payees: DynArray[address, MAX_PAYEES] = []
    shares: DynArray[uint256, MAX_PAYEES] = []
    payees, shares = staticcall Splits(self.splits).split_of(artist)
    if len(payees) == 0:
        self._credit(artist, artist, amount)
        return
    remaining: uint256 = amount
    last: uint256 = len(payees) - 1
    for i: uint256 in range(MAX_PAYEES):
        if i == last:
            break
        share: uint256 = amount * shares[i] // TOTAL_BPS
        remaining -= share
        self._credit(payees[i], artist, share)
    self._credit(payees[last], artist, remaining)
