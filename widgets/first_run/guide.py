"""The first-run guide: name, wallet, sources with a preview, a test recording, the fan link.

A QWizard opened without waiting (widgets.dialogs.show) at the first start and from Help >
First-run guide. Every page can be skipped (Next) and the whole guide too ("Skip the guide");
what it keeps goes through studio.first_run, which writes only what the artist changed. The
wallet's create and import are the Wallet dock's own dialogs; media work is
studio.first_run.SourceCheck's, on the studio's loop.
"""

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from studio import first_run
from studio.core import Studio
from studio.first_run import SourceCheck, Sources
from studio.live.options import available_audio_sources, available_video_sources
from studio.wallet.session import ChainError
from widgets.bridge import SignalBridge
from widgets.buttons import enable
from widgets.dialogs import show
from widgets.live.level_meter import METER_FLOOR_DB, LevelMeter
from widgets.wallet.wallet_dialogs import CreateWalletDialog, ImportWalletDialog
from widgets.wallet.wallet_panel import qr_pixmap

log = logging.getLogger(__name__)

Runner = Callable[[Coroutine[Any, Any, Any]], Any]
TICK_MS = 66  # the preview runs at 15 fps
PREVIEW_W, PREVIEW_H = 480, 270
SKIP = "Nothing here is required: Next skips this step."


def frame_pixmap(frame: np.ndarray, width: int, height: int) -> QPixmap:
    """An RGB array (height, width, 3) as a pixmap scaled into width x height."""
    h, w, _ = frame.shape
    image = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(
        width,
        height,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


def _text(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    return label


def _screen(text: str) -> QLabel:
    label = QLabel(text)
    label.setFixedSize(PREVIEW_W, PREVIEW_H)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("background: #000; color: #8b949e;")
    return label


def _meter() -> LevelMeter:
    meter = LevelMeter(2)
    meter.setFixedWidth(PREVIEW_W)
    meter.setToolTip("Sound level: green is good, yellow is loud, red is too loud.")
    return meter


def _screen_beside(
    page: QWidget, screen: QLabel, meter: LevelMeter, controls: QLayout, status: QLabel
) -> None:
    """The picture and its meter on the left; the controls, status and skip hint beside."""
    right = QVBoxLayout()
    right.addLayout(controls)
    right.addWidget(status)
    right.addStretch(1)
    right.addWidget(_text(SKIP, "hint"))
    left = QVBoxLayout()
    left.addWidget(screen)
    left.addWidget(meter)
    left.addStretch(1)
    root = QHBoxLayout(page)
    root.addLayout(left)
    root.addLayout(right, 1)


class NamePage(QWizardPage):
    def __init__(self, studio: Studio) -> None:
        super().__init__()
        self.studio = studio
        self.setTitle("Your artist name")
        self.setSubTitle("The name fans see beside your shows, tracks and tips.")
        self.name = QLineEdit(str(studio.settings.get(first_run.NAME_KEY) or ""))
        self.name.setPlaceholderText("e.g. Nina Aurora")
        self.name.setMaxLength(80)
        welcome = _text(
            "Welcome! Five short steps get you ready: your name, a wallet for tips, your "
            "camera, screen and microphone, a test recording, and the page where fans "
            "watch. Skip any of them; Help > First-run guide brings this back."
        )
        layout = QFormLayout(self)
        layout.addRow(welcome)
        layout.addRow("Artist name", self.name)
        layout.addRow(_text(SKIP, "hint"))

    def validatePage(self) -> bool:
        first_run.set_artist_name(self.studio.settings, self.name.text())
        return True


class WalletPage(QWizardPage):
    def __init__(self, guide: "FirstRunGuide") -> None:
        super().__init__()
        self.guide = guide
        self.session = guide.studio.wallet
        self.setTitle("Your wallet")
        self.setSubTitle(
            "Tips from fans arrive in your wallet, and it signs your tracks when you "
            "publish them. It lives in this computer's keyring, locked with your password."
        )
        self.status = _text("", "walletStatus")
        self.balance = _text("", "walletBalance")
        self.create_button = QPushButton("Create a wallet…")
        self.import_button = QPushButton("Import a wallet…")
        self.create_button.clicked.connect(lambda: self.open(CreateWalletDialog))
        self.import_button.clicked.connect(lambda: self.open(ImportWalletDialog))
        buttons = QHBoxLayout()
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.balance)
        layout.addLayout(buttons)
        layout.addStretch(1)
        layout.addWidget(_text(SKIP + " The Wallet panel has the same buttons.", "hint"))
        self.dialog: QDialog | None = None
        self.render()

    def initializePage(self) -> None:
        self.render()
        self.guide.run(self.load_balance())

    def render(self) -> None:
        session = self.session
        no_chain = "This profile has no chain: set its RPC URL in the profile first."
        for button, what in (
            (self.create_button, "A new wallet with a recovery phrase to write down."),
            (self.import_button, "A recovery phrase, private key or keystore file you have."),
        ):
            enable(button, session is not None, what, no_chain)
        if session is None:
            self.status.setText(no_chain)
        elif session.address:
            lock = (
                "Unlocked for a few minutes; then the studio asks for your password when it signs."
                if session.unlocked
                else "Locked: the studio asks for your password when it signs."
            )
            self.status.setText(
                f"Your wallet: {session.address}\n{lock} Keep it, or create or import another."
            )
        else:
            self.status.setText("You have no wallet yet: create one, or import one you have.")

    async def load_balance(self) -> None:
        session = self.session
        if session is None or session.address is None or session.txs is None:
            self.balance.setText("")
            return
        try:
            wei = await session.balance()
        except ChainError as exc:
            self.balance.setText(f"The balance cannot be read now: {exc}")
            return
        text = f"Balance: {session.format(wei)}."
        if session.test_coin_available and wei:
            text += " On this local test chain, new wallets get test coin to start with."
        self.balance.setText(text)

    def open(self, dialog_class: type[QDialog]) -> QDialog:
        assert self.session is not None
        dialog = dialog_class(self.session, self)  # type: ignore[call-arg]
        dialog.finished.connect(self._dialog_done)
        self.dialog = dialog
        show(dialog)
        return dialog

    def _dialog_done(self, _result: int) -> None:
        self.render()
        self.guide.run(self.load_balance())
        if self.guide.wallet_panel is not None:
            self.guide.wallet_panel.refresh()


class SourcesPage(QWizardPage):
    """Picks the sources and shows them live: picture and sound level."""

    def __init__(self, guide: "FirstRunGuide") -> None:
        super().__init__()
        self.guide = guide
        self.setTitle("Camera, screen and microphone")
        self.setSubTitle("What your shows send. The preview is only for you: nothing goes out.")
        self.video = QComboBox()
        self.overlay = QComboBox()
        self.audio = QComboBox()
        self.refresh_button = QPushButton("Look for devices again")
        self.refresh_button.clicked.connect(lambda: self.fill(rescan=True))
        self.preview = _screen("The preview starts on this page.")
        self.preview.setObjectName("firstRunPreview")
        self.meter = _meter()
        self.status = _text("", "sourcesStatus")
        form = QFormLayout()
        form.addRow("Picture", self.video)
        form.addRow("Camera in a corner", self.overlay)
        form.addRow("Sound", self.audio)
        form.addRow(self.refresh_button)
        _screen_beside(self, self.preview, self.meter, form, self.status)
        self.initial = self.fill()
        for picker in (self.video, self.overlay, self.audio):
            picker.activated.connect(lambda _i: self.guide.run(self.start_preview()))

    def fill(self, rescan: bool = False) -> Sources:
        """Offer what this computer has; select what was saved, else a sensible choice."""
        video = available_video_sources()
        audio = available_audio_sources(refresh=rescan)
        settings = self.guide.studio.settings
        current = self.sources() if self.video.count() else None
        wanted = (
            current
            or first_run.saved_sources(settings)
            or first_run.suggested_sources(video, audio)
        )
        cameras = [c for c in video if c[0].startswith("camera")]
        for picker, choices, none_label, spec in (
            (self.video, video, "No picture", wanted.video),
            (self.overlay, cameras, "No camera", wanted.overlay),
            (self.audio, audio, "No sound", wanted.audio),
        ):
            picker.clear()
            for choice, label in choices:
                picker.addItem(label, choice)
            picker.addItem(none_label, "none")
            index = picker.findData(spec)
            picker.setCurrentIndex(index if index >= 0 else picker.count() - 1)
        enable(
            self.overlay,
            bool(cameras),
            "A camera drawn small over the picture.",
            "No camera found: plug one in and look for devices again.",
        )
        return self.sources()

    def sources(self) -> Sources:
        return Sources(
            self.video.currentData() or "none",
            self.overlay.currentData() or "none",
            self.audio.currentData() or "none",
        )

    def initializePage(self) -> None:
        self.guide.run(self.start_preview())

    def validatePage(self) -> bool:
        """Next keeps sources the artist changed, and the Go Live page starts from them."""
        picked = self.sources()
        if picked != self.initial:
            first_run.set_sources(self.guide.studio.settings, picked)
            if self.guide.golive_panel is not None:
                apply_sources(self.guide.golive_panel, picked)
            self.initial = picked
        return True

    async def start_preview(self) -> None:
        await self.guide.check.preview(self.sources())

    def tick(self) -> None:
        check = self.guide.check
        draw(self.preview, self.meter, check)
        self.status.setText(check.message)


def draw(screen: QLabel, meter: LevelMeter, check: SourceCheck) -> None:
    frame = check.picture()
    if frame is not None:
        screen.setPixmap(frame_pixmap(frame, screen.width(), screen.height()))
    meters = check.meters
    if meters is not None:
        meter.set_levels(meters.program.peak_db, meters.program.rms_db)
    elif meter.rms_db[0] > METER_FLOOR_DB:  # the sources are closed: no level to show
        meter.set_levels((METER_FLOOR_DB,) * 2, (METER_FLOOR_DB,) * 2)


class TestRecordingPage(QWizardPage):
    def __init__(self, guide: "FirstRunGuide") -> None:
        super().__init__()
        self.guide = guide
        seconds = int(first_run.TEST_SECONDS)
        self.setTitle("A test recording")
        self.setSubTitle(
            f"Record {seconds} seconds with these sources, then play them back: "
            "you hear and see what your fans would."
        )
        self.screen = _screen("Press Record to start.")
        self.screen.setObjectName("firstRunPlayback")
        self.meter = _meter()
        self.record_button = QPushButton(f"Record {seconds} seconds")
        self.record_button.clicked.connect(self.record)
        self.play_button = QPushButton("Play it back")
        self.play_button.clicked.connect(self.play)
        self.status = _text("", "recordingStatus")
        buttons = QHBoxLayout()
        buttons.addWidget(self.record_button)
        buttons.addWidget(self.play_button)
        buttons.addStretch(1)
        _screen_beside(self, self.screen, self.meter, buttons, self.status)
        self.render()

    def initializePage(self) -> None:
        self.guide.run(self.guide.check.stop())  # the sources close until Record
        self.render()

    def record(self) -> None:
        self.guide.run(self.guide.check.record(self.guide.sources_page.sources()))
        self.render()

    def play(self) -> None:
        self.screen.setText("Playing back…")  # the recording's own pictures replace it
        self.guide.check.play()
        self.render()

    def render(self) -> None:
        check = self.guide.check
        busy = check.state in ("starting", "recording", "playing")
        enable(self.record_button, not busy and not check.on_air, "Record a test.",
               "You are live: the test waits until the show ends." if check.on_air
               else "Wait for the recording or the playback to finish.")  # fmt: skip
        enable(
            self.play_button,
            check.recorded is not None and not busy,
            "Play the test recording.",
            "Record a test first." if check.recorded is None else "Wait until it is done.",
        )

    def tick(self) -> None:
        check = self.guide.check
        draw(self.screen, self.meter, check)
        left = check.seconds_left
        self.status.setText(f"Recording… {math.ceil(left)} s left" if left else check.message)
        self.render()


class FansPage(QWizardPage):
    def __init__(self, guide: "FirstRunGuide") -> None:
        super().__init__()
        studio = guide.studio
        self.setTitle("Where fans watch")
        self.setSubTitle("Share this page: fans watch your shows, chat and tip you there.")
        url = first_run.fan_page_url(studio.backend_url)
        self.link = QLabel(url or "This profile has no backend, so there is no fan page yet.")
        self.link.setObjectName("fanLink")
        self.link.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.link.setStyleSheet("font-family: monospace; font-size: 13pt;")
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy)
        enable(self.copy_button, url is not None, "Copy the link.", "No fan page yet.")
        self.copied = _text("")
        self.qr = QLabel()
        self.qr.setObjectName("fanQr")
        self.qr.setFixedSize(180, 180)
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if url:
            self.qr.setPixmap(qr_pixmap(url, 176))
        note = (
            "On the local profile this computer serves the page, so the link works here; its "
            "port changes when the studio restarts. With a hosted backend it is the address "
            "to share."
            if studio.local_backend is not None
            else "Open it on a phone with the QR code to see what fans see."
        )
        row = QHBoxLayout()
        row.addWidget(self.link, 1)
        row.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.copied)
        layout.addWidget(self.qr)
        layout.addWidget(_text(note, "hint"))
        layout.addStretch(1)
        self.url = url

    def copy(self) -> None:
        if self.url:
            QGuiApplication.clipboard().setText(self.url)
            self.copied.setText("Link copied.")


class FirstRunGuide(QWizard):
    def __init__(
        self,
        studio: Studio,
        parent: QWidget | None = None,
        wallet_panel: Any = None,
        golive_panel: Any = None,
        runner: Runner | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("firstRunGuide")
        self.setWindowTitle("Welcome to HarmonieCORE Studio")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage)
        self.setButtonText(QWizard.WizardButton.CancelButton, "Skip the guide")
        self.setButtonText(QWizard.WizardButton.FinishButton, "Done")
        self.studio = studio
        self.wallet_panel = wallet_panel
        self.golive_panel = golive_panel
        self._run: Runner = runner or asyncio.ensure_future
        self.tasks: list[Any] = []
        self.check = SourceCheck(studio.data_dir / first_run.TEST_RECORDING, studio.live)
        self.name_page = NamePage(studio)
        self.wallet_page = WalletPage(self)
        self.sources_page = SourcesPage(self)
        self.recording_page = TestRecordingPage(self)
        self.fans_page = FansPage(self)
        for page in (
            self.name_page,
            self.wallet_page,
            self.sources_page,
            self.recording_page,
            self.fans_page,
        ):
            self.addPage(page)
        self._bridge = SignalBridge(self.check.changed, self)
        self._bridge.fired.connect(lambda *_: self.recording_page.render())
        self.currentIdChanged.connect(self._page_changed)
        self.finished.connect(self._finished)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self.resize(900, 560)

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        task = self._run(coroutine)
        self.tasks = [t for t in self.tasks if not t.done()] + [task]
        return task

    def _page_changed(self, _index: int) -> None:
        if self.currentPage() not in (self.sources_page, self.recording_page):
            self.run(self.check.stop())

    def _tick(self) -> None:
        page = self.currentPage()
        if page in (self.sources_page, self.recording_page):
            page.tick()

    def _finished(self, result: int) -> None:
        """Finished or skipped, the guide is done (Help reopens it); each step's Next kept
        what the artist changed in it."""
        self._timer.stop()
        self._bridge.close()
        self.run(self.check.stop())
        first_run.mark_done(self.studio.settings)
        log.info("first-run guide closed", extra={"event": "first_run_done", "result": result})


def apply_sources(golive_panel: Any, sources: Sources) -> None:
    """Select `sources` in the Go Live page's pickers (those it offers)."""
    for picker, spec in (
        (golive_panel.video_picker, sources.video),
        (golive_panel.overlay_picker, sources.overlay),
        (golive_panel.audio_picker, sources.audio),
    ):
        index = picker.findData(spec)
        if index >= 0:
            picker.setCurrentIndex(index)
