"""Publish tracks: upload queue, publish pipeline, IPFS, registration, `publish` command."""
