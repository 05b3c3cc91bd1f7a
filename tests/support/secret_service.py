"""Moved to harness.secret_service (benches use it too and must not import tests); kept for
callers."""

from harness.secret_service import SecretServiceSession, have_gnome_keyring

__all__ = ["SecretServiceSession", "have_gnome_keyring"]
