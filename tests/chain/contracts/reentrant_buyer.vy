# pragma version ~=0.4.3
# pragma evm-version shanghai
# A hostile buyer: when the marketplace hands it a token, it tries to buy another listing
# (re-entering `buy`) with the coin it holds, and records whether that worked.

interface Market:
    def buy(token_id: uint256): payable

market: public(address)
second_token: public(uint256)
second_price: public(uint256)
reentered: public(bool)
attempts: public(uint256)


@deploy
def __init__(market_: address):
    self.market = market_


@external
@payable
def attack(token_id: uint256, price: uint256, second_token_: uint256, second_price_: uint256):
    self.second_token = second_token_
    self.second_price = second_price_
    extcall Market(self.market).buy(token_id, value=price)


@external
def onERC721Received(operator: address, owner: address, token_id: uint256, data: Bytes[1024]) -> bytes4:
    if self.attempts == 0:
        self.attempts += 1
        ok: bool = raw_call(
            self.market,
            abi_encode(self.second_token, method_id=method_id("buy(uint256)")),
            value=self.second_price,
            revert_on_failure=False,
        )
        self.reentered = ok
    return method_id("onERC721Received(address,address,uint256,bytes)", output_type=bytes4)


@external
@payable
def __default__():
    pass
