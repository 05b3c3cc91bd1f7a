"""Fee estimation: EIP-1559 when the chain has a base fee, legacy gas price otherwise."""

import statistics
from dataclasses import dataclass

from web3 import Web3

FALLBACK_PRIORITY_FEE = 10**9  # 1 gwei
REPLACEMENT_BUMP = 1.125  # nodes want at least +10% on both fees to replace; we add 12.5%


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    base_fee: int | None  # None: the chain has no EIP-1559 base fee, use a legacy gas price

    @property
    def eip1559(self) -> bool:
        return self.base_fee is not None

    def tx_fields(self) -> dict[str, int]:
        if self.eip1559:
            return {
                "maxFeePerGas": self.max_fee_per_gas,
                "maxPriorityFeePerGas": self.max_priority_fee_per_gas,
            }
        return {"gasPrice": self.max_fee_per_gas}

    def bumped(self, market: "Fees | None" = None) -> "Fees":
        """Fees for a replacement: at least 12.5% above these, and no lower than the market."""
        tip = int(self.max_priority_fee_per_gas * REPLACEMENT_BUMP) + 1
        cap = int(self.max_fee_per_gas * REPLACEMENT_BUMP) + 1
        if market is not None:
            tip = max(tip, market.max_priority_fee_per_gas)
            cap = max(cap, market.max_fee_per_gas)
        return Fees(max(cap, tip), tip, self.base_fee if market is None else market.base_fee)


def estimate_fees(w3: Web3) -> Fees:
    """maxFee = 2 x latest base fee + tip (room for six full blocks of base fee rises);
    tip = median of the last blocks' median tips, else the node's suggestion."""
    block = w3.eth.get_block("latest")
    base_fee = block.get("baseFeePerGas")
    if base_fee is None:
        price = int(w3.eth.gas_price)
        return Fees(price, price, None)
    tip = _recent_tip(w3)
    return Fees(2 * int(base_fee) + tip, tip, int(base_fee))


def _recent_tip(w3: Web3) -> int:
    try:
        history = w3.eth.fee_history(5, "latest", [50])
        rewards = [r[0] for r in history.get("reward") or [] if r and r[0] > 0]
        if rewards:
            return int(statistics.median(rewards))
    except Exception:  # fee history is optional in some nodes: fall through to the suggestion
        pass
    try:
        return int(w3.eth.max_priority_fee) or FALLBACK_PRIORITY_FEE
    except Exception:
        return FALLBACK_PRIORITY_FEE
