"""Drives the real studio from outside, for the suite and the benches alike: a virtual X
server with a tray host, a private D-Bus session with gnome-keyring, the studio as a process,
widgets found over AT-SPI and pressed with real X input events, and the soak scenario.

Benches import this package, never `tests` (tests/support re-exports what moved here)."""
