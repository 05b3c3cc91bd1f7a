"""The Library panel (drop zone, queue, player)."""
