"""Go live: the live session, its codec fallback and the `live` command."""
