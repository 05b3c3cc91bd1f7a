"""Fans buy and subscribe: minting and listing a track's editions, supporter tiers, and the
sales and subscriptions followed into the tip path (alerts, revenue, CSV)."""
