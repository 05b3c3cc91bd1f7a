"""A small real GUI process for the end-to-end tip test: tray icon + alert feed + watcher.

    python -m tests.tips.tray_app --rpc ws://... --contract 0x... --artist 0x... --data DIR

It builds the same pieces the studio does (TipWatcher -> TipAlerts -> widgets.tip_notifier)
on a qasync loop under a real X server, logs JSON events (`tray_ready`, `tray_message`,
`feed_entries`) to $XDG_STATE_HOME/harmonie-studio/log/studio.log, and quits on SIGTERM.
"""

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from studio import paths
from studio.logs import event, setup_logging
from studio.tip_alerts import TipAlerts
from studio.tip_format import native_symbol
from studio.tip_store import TipStore
from studio.tip_watcher import TipWatcher, WatchTarget
from widgets.alerts_feed import AlertsFeed
from widgets.theme import app_icon
from widgets.tip_notifier import TipNotifier

log = logging.getLogger("tests.tips.tray_app")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--contract", required=True)
    parser.add_argument("--artist", required=True)
    parser.add_argument("--chain-id", type=int, default=1114)
    parser.add_argument("--confirmations", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)

    setup_logging(paths.log_dir())
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    store = TipStore((args.data or paths.data_dir()) / "tips.sqlite3")
    target = WatchTarget(args.rpc, args.contract, args.artist, args.confirmations, args.chain_id)
    watcher = TipWatcher(target, store, start_block=0, poll_interval_s=0.1)
    alerts = TipAlerts(store, args.artist, native_symbol(args.chain_id))
    alerts.follow(watcher)

    tray = QSystemTrayIcon(app_icon())
    tray.setToolTip("HarmonieCORE tips")
    tray.show()
    feed = AlertsFeed()
    feed.setWindowTitle("Alerts")
    feed.resize(420, 500)
    feed.show()
    notifier = TipNotifier(tray, alerts, feed)

    def on_alert(_alert: object) -> None:
        QTimer.singleShot(0, lambda: event(log, "feed_entries", entries=json.dumps(feed.entries())))

    def on_first_sync(head: int) -> None:
        watcher.synced.disconnect(on_first_sync)
        event(log, "watcher_synced", head=head, shown=notifier.shown)

    alerts.alerted.connect(on_alert)
    watcher.synced.connect(on_first_sync)

    stopping = asyncio.Event()
    signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(stopping.set))
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)  # lets Python run signal handlers
    ticker.start(100)

    async def lifetime() -> int:
        watcher.start()
        event(
            log,
            "tray_ready",
            tray_available=QSystemTrayIcon.isSystemTrayAvailable(),
            tray_visible=tray.isVisible(),
            history=len(feed.entries()),
        )
        await stopping.wait()
        await watcher.stop()
        store.close()
        event(log, "tray_app_stopped")
        return 0

    with loop:
        return loop.run_until_complete(lifetime())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
