"""The wallet session: unlock, confirmations and transaction flows."""
