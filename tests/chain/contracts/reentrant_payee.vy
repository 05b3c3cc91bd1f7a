# pragma version ~=0.4.3
# pragma evm-version shanghai
# A hostile payee: when paid by `withdraw`, it calls `withdraw` again.
# swallow=False lets the inner failure bubble up; swallow=True ignores it and keeps the money.

interface Tipping:
    def withdraw(): nonpayable

target: public(address)
swallow: public(bool)
attempts: public(uint256)
reentered: public(bool)


@deploy
def __init__(target_: address, swallow_: bool):
    self.target = target_
    self.swallow = swallow_


@external
def attack():
    extcall Tipping(self.target).withdraw()


@external
@payable
def __default__():
    if self.attempts >= 3:
        return
    self.attempts += 1
    if self.swallow:
        ok: bool = raw_call(self.target, method_id("withdraw()"), revert_on_failure=False)
        if ok:
            self.reentered = True
    else:
        extcall Tipping(self.target).withdraw()
        self.reentered = True
