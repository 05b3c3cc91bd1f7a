# pragma version ~=0.4.3
# pragma evm-version shanghai
"""
@title HarmonieCORE tipping
@notice Fans tip an artist in the native coin, with an optional message. Each artist may
        split incoming tips among collaborators (basis points summing to 10,000). Shares
        accrue as balances that each payee withdraws itself (pull payments).
"""

MAX_PAYEES: constant(uint256) = 16
TOTAL_BPS: constant(uint256) = 10_000
MAX_MESSAGE: constant(uint256) = 280


event Tipped:
    artist: indexed(address)
    fan: indexed(address)
    amount: uint256
    message: String[MAX_MESSAGE]


event SplitChanged:
    artist: indexed(address)
    payees: DynArray[address, MAX_PAYEES]
    shares_bps: DynArray[uint256, MAX_PAYEES]


event Credited:
    payee: indexed(address)
    artist: indexed(address)
    amount: uint256


event Withdrawn:
    payee: indexed(address)
    amount: uint256


# payee -> amount they can withdraw
balances: public(HashMap[address, uint256])
# artist -> everything tipped to them, before splitting
tipped_total: public(HashMap[address, uint256])
# sum of all balances: the contract holds exactly this much
owed_total: public(uint256)

_split_payees: HashMap[address, DynArray[address, MAX_PAYEES]]
_split_shares: HashMap[address, DynArray[uint256, MAX_PAYEES]]


@external
@payable
@nonreentrant
def tip(artist: address, message: String[MAX_MESSAGE] = ""):
    """
    @notice Tip `artist` with the value sent. The tip is split per the artist's split
            (all to the artist when none is set); the last payee takes the rounding rest,
            so no wei is lost or created.
    """
    assert artist != empty(address), "tipping: artist is the zero address"
    assert msg.value > 0, "tipping: a tip must be more than zero"

    payees: DynArray[address, MAX_PAYEES] = self._split_payees[artist]
    if len(payees) == 0:
        self._credit(artist, artist, msg.value)
    else:
        shares: DynArray[uint256, MAX_PAYEES] = self._split_shares[artist]
        remaining: uint256 = msg.value
        last: uint256 = len(payees) - 1
        for i: uint256 in range(MAX_PAYEES):
            if i == last:
                break
            amount: uint256 = msg.value * shares[i] // TOTAL_BPS
            remaining -= amount
            self._credit(payees[i], artist, amount)
        self._credit(payees[last], artist, remaining)

    self.tipped_total[artist] += msg.value
    log Tipped(artist=artist, fan=msg.sender, amount=msg.value, message=message)


@external
def set_split(payees: DynArray[address, MAX_PAYEES], shares_bps: DynArray[uint256, MAX_PAYEES]):
    """
    @notice Set how the caller's tips are split. An empty list removes the split (all to
            the caller). Shares are basis points, each above zero, summing to 10,000.
    """
    assert len(payees) == len(shares_bps), "tipping: payees and shares differ in length"
    total: uint256 = 0
    for i: uint256 in range(MAX_PAYEES):
        if i == len(payees):
            break
        assert payees[i] != empty(address), "tipping: payee is the zero address"
        assert shares_bps[i] > 0, "tipping: a share must be more than zero"
        for j: uint256 in range(MAX_PAYEES):
            if j == i:
                break
            assert payees[j] != payees[i], "tipping: payee listed twice"
        total += shares_bps[i]
    assert len(payees) == 0 or total == TOTAL_BPS, "tipping: shares must sum to 10000"

    self._split_payees[msg.sender] = payees
    self._split_shares[msg.sender] = shares_bps
    log SplitChanged(artist=msg.sender, payees=payees, shares_bps=shares_bps)


@external
@view
def split_of(artist: address) -> (DynArray[address, MAX_PAYEES], DynArray[uint256, MAX_PAYEES]):
    return self._split_payees[artist], self._split_shares[artist]


@external
@nonreentrant
def withdraw():
    """
    @notice Send the caller everything owed to them. The balance is cleared before the
            transfer and the function is non-reentrant.
    """
    amount: uint256 = self.balances[msg.sender]
    assert amount > 0, "tipping: nothing to withdraw"
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
