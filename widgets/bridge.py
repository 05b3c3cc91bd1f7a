"""The thin bridge from studio signals (plain callbacks) to Qt signals.

Studio services may emit from asyncio callbacks; re-emitting through a Qt signal queues the
update onto the GUI thread whatever thread it came from.
"""

from PySide6.QtCore import QObject, Signal

from studio.signals import Signal as StudioSignal


class SignalBridge(QObject):
    fired = Signal(object)

    def __init__(self, source: StudioSignal, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._emit = emit = self.fired.emit
        source.connect(emit)
        # A bridge deleted with its widget must leave the service's observers too: otherwise
        # every later emit raises "Signal source has been deleted" into the service's log.
        self.destroyed.connect(lambda *_: source.disconnect(emit))

    def close(self) -> None:
        self._source.disconnect(self._emit)
