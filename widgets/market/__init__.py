"""Fans buy and subscribe, in the window: Mint as NFT (Library), the supporter tiers
(Settings), the Sales view (Revenue)."""
