"""A SignalBridge leaves its studio signal when Qt deletes it with its widget."""

import logging

from PySide6.QtCore import QCoreApplication, QEvent, QObject

from studio.signals import Signal
from widgets.bridge import SignalBridge


def test_a_deleted_bridge_is_no_longer_an_observer(qapp, caplog) -> None:  # type: ignore[no-untyped-def]
    source = Signal()
    owner = QObject()
    bridge = SignalBridge(source, owner)
    seen: list[object] = []
    bridge.fired.connect(seen.append)
    source.emit(1)
    assert seen == [1]
    owner.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    with caplog.at_level(logging.ERROR, logger="studio.signals"):
        source.emit(2)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert source._callbacks == []
