"""The Go Live panel."""
