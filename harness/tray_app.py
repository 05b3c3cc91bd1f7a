"""A small real GUI process for the end-to-end tip test and bench/tips.py: tray icon, alert
feed, revenue dashboard and the tips stack (studio.tips.service.TipService), as the studio assembles
them.

    python -m harness.tray_app --rpc URL --contract 0x... --artist 0x... [--data DIR]
        [--profile local|testnet|mainnet] [--poll-s S] [--backend URL]

With `--profile` the network is the built-in profile's with the user's `rpc_url` and contract
set (as settings override them), so transport and polling interval are the product's own
choice (TipService: HTTP is polled, ws:// subscribes; 0.25 s on the local devnet, else 0.5 s);
without it, a custom network. `--poll-s` overrides the interval.

Tips are told as the studio tells them (widgets.tips.tip_notifier: a desktop notification when
a server is on the session bus, else the tray balloon). Each balloon Qt draws is measured as
a person reads it: `balloon` events carry the WCAG contrast of each of its text labels.

It runs on a qasync loop under a real X server and logs JSON events (`tray_ready`,
`watcher_synced`, `tray_message`, `balloon`, `feed_entries`, `revenue`) to
$XDG_STATE_HOME/harmonie-studio/log/studio.log; it quits on SIGTERM.
"""

import argparse
import asyncio
import json
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import qasync
from PySide6.QtCore import QPoint, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QLabel, QSystemTrayIcon, QTabWidget

from chain.networks import LOCAL_DEVNET, Network, custom_network
from studio import paths
from studio.logs import event, setup_logging
from studio.profiles import BUILTIN_PROFILES, LOCAL, load_profile
from studio.social.backend_client import BackendClient
from studio.tips.fan_names import FanNames, profile_lookup
from studio.tips.format import native_symbol
from studio.tips.service import TipService
from studio.wallet.session import network_for_profile
from widgets.theme import app_icon, apply_dark_theme
from widgets.tips.alerts_feed import AlertsFeed
from widgets.tips.revenue_dashboard import RevenueDashboard
from widgets.tips.tip_notifier import TipNotifier, desktop_notifications

log = logging.getLogger("harness.tray_app")


def _luminance(rgb: "np.ndarray") -> "np.ndarray":
    """WCAG relative luminance of sRGB pixels (..., 3) in 0..255."""
    c = rgb.astype(float) / 255.0
    linear = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def text_contrast(image: QImage) -> float:
    """Contrast ratio of a text label's ink against its background: the most common colour
    is the background, the ink is the pixel that stands out most from it."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    pixels = raw.reshape(height, stride)[:, : width * 3].reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    background = _luminance(colours[counts.argmax()])
    lum = _luminance(colours)
    ratios = (np.maximum(lum, background) + 0.05) / (np.minimum(lum, background) + 0.05)
    return float(ratios.max())


def measure_balloons(measured: set[int]) -> None:
    """Log a `balloon` event for each tray balloon Qt shows (its labels' text contrast)."""
    for widget in QApplication.topLevelWidgets():
        if widget.metaObject().className() != "QBalloonTip" or not widget.isVisible():
            continue
        if id(widget) in measured:
            continue
        measured.add(id(widget))
        shot = widget.grab().toImage()
        labels = []
        for label in widget.findChildren(QLabel):
            if not label.text():
                continue  # the icon
            origin = label.mapTo(widget, QPoint(0, 0))
            ratio = shot.devicePixelRatio()
            crop = shot.copy(
                int(origin.x() * ratio),
                int(origin.y() * ratio),
                int(label.width() * ratio),
                int(label.height() * ratio),
            )
            labels.append({"text": label.text(), "contrast": round(text_contrast(crop), 2)})
        event(log, "balloon", labels=json.dumps(labels))


def profile_network(args: argparse.Namespace) -> Network:
    contracts = {"tipping": args.contract}
    if args.profile is None:
        symbol = native_symbol(args.chain_id)
        return custom_network(
            args.rpc,
            args.chain_id,
            symbol=symbol,
            confirmations=args.confirmations,
            contracts=contracts,
        )
    if args.profile == LOCAL.name:  # what studio.wallet.session.local_network makes of /chain
        return replace(LOCAL_DEVNET, rpc_url=args.rpc, chain_id=args.chain_id, contracts=contracts)
    profile = load_profile(args.profile, {"chain": {"rpc_url": args.rpc, "contracts": contracts}})
    return asyncio.run(network_for_profile(profile.chain, None))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--contract", required=True)
    parser.add_argument("--artist", required=True)
    parser.add_argument("--chain-id", type=int, default=1114)
    parser.add_argument("--confirmations", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--profile", choices=sorted(BUILTIN_PROFILES), default=None)
    parser.add_argument("--poll-s", type=float, default=None)
    parser.add_argument("--backend", default=None, help="backend URL: fans by profile name")
    args = parser.parse_args(argv)

    network = profile_network(args)  # before the qasync loop is set: it may run a coroutine
    setup_logging(paths.log_dir())
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    apply_dark_theme(app)  # as the studio does
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    data_dir = args.data or paths.data_dir()
    tips = TipService(network, args.artist, data_dir, poll_interval_s=args.poll_s)
    backend_client = None
    if args.backend:  # as the studio composes it (studio.core): names from the backend
        backend_client = BackendClient(args.backend, None, chain_id=args.chain_id)
        tips.alerts.names = FanNames(profile_lookup(backend_client))
    event(
        log,
        "tray_network",
        key=network.key,
        rpc_url=network.rpc_url,
        poll_s=tips.watcher.follower.poll_interval_s,
    )

    tray = QSystemTrayIcon(app_icon())
    tray.setToolTip("HarmonieCORE tips")
    tray.show()
    window = QTabWidget()
    window.setWindowTitle("Tips")
    feed = AlertsFeed()
    dashboard = RevenueDashboard(network.symbol, on_export=tips.revenue.export_csv)
    window.addTab(feed, "Alerts")
    window.addTab(dashboard, "Revenue")
    window.resize(900, 620)
    window.show()
    notifier = TipNotifier(tray, tips.alerts, feed, desktop=desktop_notifications(window))
    measured: set[int] = set()
    balloons = QTimer()
    balloons.timeout.connect(lambda: measure_balloons(measured))
    balloons.start(100)

    def on_revenue(summary, chain) -> None:  # type: ignore[no-untyped-def]
        # qasync: studio signals fire on the GUI thread, so widgets may be updated directly
        dashboard.show_summary(summary, chain)
        event(
            log,
            "revenue",
            total_wei=str(summary.total_wei),
            count=summary.count,
            tipped_total_wei=str(chain.tipped_total_wei) if chain else None,
            withdrawable_wei=str(chain.withdrawable_wei) if chain else None,
        )

    tips.revenue.changed.connect(on_revenue)

    def on_alert(_alert: object) -> None:
        QTimer.singleShot(0, lambda: event(log, "feed_entries", entries=json.dumps(feed.entries())))

    def on_first_sync(head: int) -> None:
        tips.watcher.synced.disconnect(on_first_sync)
        event(log, "watcher_synced", head=head, shown=notifier.shown)

    tips.alerts.alerted.connect(on_alert)
    tips.watcher.synced.connect(on_first_sync)

    stopping = asyncio.Event()
    signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(stopping.set))
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)  # lets Python run signal handlers
    ticker.start(100)

    async def lifetime() -> int:
        await tips.start()
        event(
            log,
            "tray_ready",
            tray_available=QSystemTrayIcon.isSystemTrayAvailable(),
            tray_visible=tray.isVisible(),
            history=len(feed.entries()),
        )
        await stopping.wait()
        await tips.stop()
        if backend_client is not None:
            await backend_client.aclose()
        event(log, "tray_app_stopped")
        return 0

    with loop:
        return loop.run_until_complete(lifetime())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
