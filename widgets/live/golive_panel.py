"""The Go Live page: preview, source pickers, meters, title, Go Live / End, the LIVE badge
with the show's duration, stats, and Share (the fan-page link and its QR code) while live.
The scenes it switches are edited in the window's Scenes and Sources docks (scene_editor.py).

The preview and the meters run as soon as the page is shown, before going live: the session
runs a preview pipeline (no encoder) while the page is visible and the show is not on.

The panel drives a `studio.live_session.LiveSession` and renders what it reports; it does no
media work itself. Starting and stopping are coroutines, run on the qasync loop. What it needs
of the rest of the studio (the artist's name, whether announcing the show needs the wallet
unlocked, the unlock, the fan-page link) comes in a `ShowHost`.
"""

import asyncio
import dataclasses
import math
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtGui import (
    QFontDatabase,
    QHideEvent,
    QImage,
    QKeySequence,
    QPixmap,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.live.global_hotkeys import SceneHotkeys
from studio.live.restream import restream_choices
from studio.live.scenes import SceneError, SceneSet, draws_something, load_scenes, save_scenes
from studio.live.session import (
    LiveError,
    LiveOptions,
    LiveSession,
    available_audio_sources,
    available_video_sources,
)
from studio.settings import Settings
from studio.settings_schema import live_overrides, recording_defaults, valid_value
from studio.social.stream_announcer import DEFAULT_TITLE
from widgets.bridge import SignalBridge
from widgets.dialogs import choose, show
from widgets.live.level_meter import CLIP_DB, LevelMeter
from widgets.live.restream_section import RestreamSection
from widgets.live.scene_editor import PreviewDragger, ScenesSection
from widgets.live.share_dialog import ShareDialog

Runner = Callable[[Coroutine[Any, Any, Any]], Any]

REFRESH_MS = 33  # 30 Hz: preview, meters and timer
PREVIEW_RESTART_MS = 250  # after a source change: one restart for a burst of changes
PREVIEW_IDLE = "The preview starts when a video source is chosen."
LOUDNESS_IDLE = "M – · S – · I – LUFS"
# the widest stats lines: the label keeps their size whatever the figures
STATS_TEMPLATE = (
    "888 fps · 88888 kbit/s · encoder 888 %",
    "RTT 8888 ms · loss 88.8 % · reconnecting",
)
BADGE_LIVE = "background: #d32f2f; color: #fff; font-weight: 700; border-radius: 4px;"
BADGE_IDLE = "background: #30363d; color: #c9d1d9; font-weight: 700; border-radius: 4px;"
NO_SOURCE_WHY = "Choose a video or an audio source first: there is nothing to send."
LIVE_WHY = "You are live: End the show before going live again."
NOT_LIVE_WHY = "Nothing to end: you are not live."
NOT_RECORDING_WHY = "Tick “Record to” to keep a recording of the show."
NO_TITLE_WHY = "Give the show a title: fans see it in the list of live shows."
SHARE_WHY = "Share appears when you are live: the link fans watch and chat at."
LOCKED_TITLE = "Your wallet is locked"
LOCKED_TEXT = (
    "Unlock your wallet to announce the show: fans find it in the list of live shows and "
    "can chat. Or go live without announcing it (you can unlock later: the show is "
    "announced then)."
)


@dataclass
class ShowHost:
    """What the panel needs of the studio beyond the live session."""

    artist_name: str = ""
    # True when announcing a show would need the wallet unlocked (and it is locked)
    needs_unlock: Callable[[], bool] = lambda: False
    unlock: Callable[[], Awaitable[bool]] | None = None  # the unlock dialog; True: unlocked
    fan_page_url: Callable[[], str | None] = lambda: None  # where fans watch, while live


def default_title(artist_name: str) -> str:
    """The show's title to start from: "<artist> live", else the announcer's default."""
    name = artist_name.strip()
    return f"{name} live" if name else DEFAULT_TITLE


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def stats_text(stats: dict[str, Any]) -> str:
    """The show's figures in two lines: the picture and the encode, then the network."""
    picture, network = [], []
    if "fps" in stats:
        picture.append(f"{stats['fps']:.0f} fps")
    bitrate = stats.get("bitrate_kbps")
    if bitrate is None:
        bitrate = (stats.get("video_bitrate", 0) + stats.get("audio_bitrate", 0)) / 1000
    picture.append(f"{bitrate:.0f} kbit/s")
    if "encoder_load_pct" in stats:
        picture.append(f"encoder {stats['encoder_load_pct']:.0f} %")
    if stats.get("rtt_ms") is not None:
        network.append(f"RTT {stats['rtt_ms']:.0f} ms")
    if "loss_pct" in stats:
        network.append(f"loss {stats['loss_pct']:.1f} %")
    network.append(stats.get("publish_state", ""))
    return "\n".join(" · ".join(p for p in line if p) for line in (picture, network))


def format_lufs(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.1f}"


class GoLivePanel(QWidget):
    def __init__(
        self,
        session: LiveSession,
        parent: QWidget | None = None,
        runner: Runner | None = None,
        default_whip_url: str = "",
        settings: Settings | None = None,
        host: ShowHost | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("goLivePanel")
        self.session = session
        self.settings = settings  # Video / Audio / Recording settings, read at each Go Live
        self.host = host or ShowHost()
        self._run: Runner = runner or asyncio.ensure_future
        self._meters: Any = None
        self.share_dialog: ShareDialog | None = None
        self._asking = False  # the locked-wallet question is open: not live yet
        self._picture = False  # the preview shows a picture (not the idle text)
        self._shown_frame: Any = None  # the array the preview's pixmap was made of...
        self._shown_size: QSize | None = None  # ...at this size of the preview
        self.preview_draws = 0  # pictures scaled into the preview (tests count them)
        self._shown_state = session.state
        scenes, scenes_problem = load_scenes(settings)
        self._setup_ui(default_whip_url, scenes)
        self.hotkeys: list[QShortcut] = []
        self.title.setText(default_title(self.host.artist_name))
        self._bridges = [
            SignalBridge(session.state_changed, self),
            SignalBridge(session.message, self),
            SignalBridge(session.meters_changed, self),
            SignalBridge(session.stats_changed, self),
        ]
        self._bridges[0].fired.connect(lambda _s: self._state_changed())
        self._bridges[1].fired.connect(self._show_message)
        self._bridges[2].fired.connect(self._store_meters)
        self._bridges[3].fired.connect(self._show_stats)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_RESTART_MS)
        self._preview_timer.timeout.connect(self._start_preview)
        self.refresh_sources()
        for picker in (self.video_picker, self.overlay_picker, self.audio_picker):
            picker.currentIndexChanged.connect(lambda _i: self._sources_changed())
        self.scenes_section.edited.connect(self._scenes_edited)
        self.scenes_section.chosen.connect(self.activate_scene)
        self.scenes_section.moving.connect(self.session.set_scenes)  # shown, saved on drop
        self.dragger = PreviewDragger(self.preview, self.scenes_section)
        self.record.toggled.connect(lambda _on: self._render_state())
        self.title.textChanged.connect(lambda _t: self._render_state())
        self._render_state()
        if scenes_problem:
            self._show_message(scenes_problem)

    # --- layout ------------------------------------------------------------------------

    def _setup_ui(self, default_whip_url: str, scenes: SceneSet) -> None:
        self.preview = QLabel(PREVIEW_IDLE)
        self.preview.setObjectName("livePreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(320, 180)  # grows with the window; a laptop's at least
        self.preview.setStyleSheet("background: #000; color: #8b949e;")

        digits = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.meter = LevelMeter(2)
        self.loudness = QLabel(LOUDNESS_IDLE)
        self.loudness.setFont(digits)
        self.limiter_label = QLabel("Limiter: idle")
        self.limiter_label.setFont(digits)

        self.title = QLineEdit()
        self.title.setPlaceholderText("What are you playing tonight?")
        self.video_picker = QComboBox()
        self.overlay_picker = QComboBox()
        self.scenes_section = ScenesSection(scenes, self)  # its panes go in the window's docks
        self.audio_picker = QComboBox()
        self.refresh_button = QPushButton("Refresh devices")
        self.refresh_button.clicked.connect(lambda: self.refresh_sources(rescan=True))
        self.gain = QSlider(Qt.Orientation.Horizontal)
        self.gain.setRange(-30, 12)
        self.gain.setValue(0)
        self.gain.valueChanged.connect(self._gain_changed)
        self.gain_label = QLabel("0 dB")
        self.gain_label.setFixedWidth(self.gain_label.fontMetrics().horizontalAdvance("+88 dB") + 6)
        self.mute = QCheckBox("Mute")
        self.mute.toggled.connect(self._mute_changed)
        self.codec_picker = QComboBox()
        self.codec_picker.addItem("VP8", "vp8")
        self.codec_picker.addItem("H.264", "h264")
        codec = valid_value(self.settings, "video.codec") if self.settings is not None else None
        self.codec_picker.setCurrentIndex(max(0, self.codec_picker.findData(codec)))
        self.whip_url = QLineEdit(default_whip_url)
        self.whip_url.setPlaceholderText("WHIP ingest URL (empty: record only)")
        self.stream_key = QLineEdit()
        self.stream_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.stream_key.setPlaceholderText("Stream key")
        self.record = QCheckBox("Record to")
        recording, record_file = (
            recording_defaults(self.settings)
            if self.settings is not None
            else (True, Path.home() / "harmonie-live.mkv")
        )
        self.record.setChecked(recording)
        self.record_path = QLineEdit(str(record_file))
        self.restream = RestreamSection(restream_choices(self.settings))
        # a long path shows only its end in the field: the whole path is in the tooltip
        self.record_path.textChanged.connect(lambda _t: self._render_state())

        self.go_live = QPushButton("Go Live")
        self.go_live.setObjectName("goLiveButton")
        self.go_live.clicked.connect(self._go_live)
        self.end = QPushButton("End")
        self.end.setObjectName("endButton")
        self.end.clicked.connect(self._end)
        self.share = QPushButton("Share")
        self.share.setObjectName("shareButton")
        self.share.clicked.connect(self.open_share)
        # The badge: ● LIVE and the show's duration on red while on air; fixed widths, so
        # nothing beside it moves as the text changes.
        self.badge = QFrame()
        self.badge.setObjectName("liveBadgeFrame")
        self.live_badge = QLabel("OFF AIR")
        self.live_badge.setObjectName("liveBadge")
        self.timer_label = QLabel("00:00:00")
        self.timer_label.setObjectName("liveTimer")
        self.timer_label.setFont(digits)
        for label, widest in ((self.live_badge, "● RECORDING"), (self.timer_label, "00:00:00")):
            bold = label.font()
            bold.setBold(True)
            label.setFont(bold)
            label.setFixedWidth(label.fontMetrics().horizontalAdvance(widest) + 8)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        badge_row = QHBoxLayout(self.badge)
        badge_row.setContentsMargins(6, 3, 6, 3)
        badge_row.addWidget(self.live_badge)
        badge_row.addWidget(self.timer_label)
        self.stats_label = QLabel("")
        self.stats_label.setObjectName("liveStats")
        self.stats_label.setFont(digits)
        metrics = self.stats_label.fontMetrics()
        self.stats_label.setFixedSize(
            max(metrics.horizontalAdvance(line) for line in STATS_TEMPLATE) + 8,
            metrics.lineSpacing() * len(STATS_TEMPLATE) + 6,
        )
        self.viewers_label = QLabel("")
        self.message_label = QLabel("")
        self.message_label.setObjectName("liveMessage")
        self.message_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Title", self.title)
        form.addRow("Video", self.video_picker)
        form.addRow("Overlay", self.overlay_picker)
        audio_row = QHBoxLayout()
        audio_row.addWidget(self.audio_picker, 1)
        audio_row.addWidget(self.refresh_button)
        form.addRow("Audio", audio_row)
        gain_row = QHBoxLayout()
        gain_row.addWidget(self.gain, 1)
        gain_row.addWidget(self.gain_label)
        gain_row.addWidget(self.mute)
        form.addRow("Gain", gain_row)
        form.addRow("Codec", self.codec_picker)
        form.addRow("Ingest", self.whip_url)
        form.addRow("Key", self.stream_key)
        record_row = QHBoxLayout()
        record_row.addWidget(self.record)
        record_row.addWidget(self.record_path, 1)
        form.addRow(record_row)
        form.addRow("Restream", self.restream)

        buttons = QHBoxLayout()
        buttons.addWidget(self.badge)
        buttons.addStretch(1)
        buttons.addWidget(self.share)
        buttons.addWidget(self.go_live)
        buttons.addWidget(self.end)

        left = QVBoxLayout()
        left.addWidget(self.preview, 1)
        left.addWidget(self.meter)
        left.addWidget(self.loudness)
        left.addWidget(self.limiter_label)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(buttons)
        right.addWidget(self.stats_label)
        right.addWidget(self.viewers_label)
        right.addWidget(self.message_label)
        right.addStretch(1)
        right_box = QWidget()
        right_box.setLayout(right)
        # the controls' column keeps its width (as narrow as its rows allow: the preview gets
        # the rest of a laptop's screen)
        right_box.setFixedWidth(
            max(right_box.minimumSizeHint().width(), self.stats_label.width() + 24, 420)
        )
        root = QHBoxLayout(self)
        root.addLayout(left, 1)
        root.addWidget(right_box)

    # --- sources -----------------------------------------------------------------------

    def refresh_sources(self, rescan: bool = False) -> None:
        video = available_video_sources()
        audio = available_audio_sources(refresh=rescan)
        for picker, choices, none_label in (
            (self.video_picker, video, "No video"),
            (self.overlay_picker, [c for c in video if c[0].startswith("camera")], "No overlay"),
            (self.audio_picker, audio, "No audio"),
        ):
            current = picker.currentData()
            picker.clear()
            for spec, label in choices:
                picker.addItem(label, spec)
            picker.addItem(none_label, "none")
            index = picker.findData(current)
            picker.setCurrentIndex(index if index >= 0 else 0)
        if not any(spec.startswith("camera") for spec, _ in video):
            self.overlay_picker.setToolTip("No camera found: plug one in and refresh.")
            self.overlay_picker.setCurrentIndex(self.overlay_picker.findData("none"))

    def options(self) -> LiveOptions:
        record = Path(self.record_path.text()).expanduser() if self.record.isChecked() else None
        return LiveOptions(
            video=self.video_picker.currentData() or "none",
            overlay=self.overlay_picker.currentData() or "none",
            audio=[self.audio_picker.currentData() or "none"],
            scenes=self.scenes_section.scenes,
            video_codec=self.codec_picker.currentData(),
            record_path=record,
            whip_url=self.whip_url.text().strip() or None,
            whip_token=self.stream_key.text() or None,
            title=self.title.text().strip(),
            restream=self.restream.destinations(),
            **(live_overrides(self.settings) if self.settings is not None else {}),
        )

    # --- scenes --------------------------------------------------------------------------

    def install_docks(self, window: Any) -> None:
        """The Scenes and Sources docks, as OBS has them: under the page, beside each other."""
        section = self.scenes_section
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        window.set_dock("scenes", "Scenes", section.scenes_pane, bottom)
        window.set_dock("sources", "Sources", section.sources_pane, bottom)
        for pane in (section.scenes_pane, section.sources_pane):
            pane.show()

    def install_hotkeys(self, window: QWidget) -> None:
        """Ctrl+1…9 put scenes 1…9 on the air while `window` is the active window."""
        for number in range(1, 10):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), window)
            shortcut.activated.connect(lambda n=number: self.activate_scene_at(n - 1))
            self.hotkeys.append(shortcut)

    def install_global_hotkeys(self, hotkeys: SceneHotkeys) -> None:
        """<modifiers>+1…9 from any window: the grab's presses reach this thread through a
        bridge and put scenes 1…9 on the air, as Ctrl+1…9 do in the window."""
        bridge = SignalBridge(hotkeys.pressed, self)
        bridge.fired.connect(lambda digit: self.activate_scene_at(int(digit) - 1))
        self._bridges.append(bridge)

    def scene_names(self) -> list[str]:
        return self.scenes_section.scenes.names

    def active_scene(self) -> str:
        return self.scenes_section.scenes.active

    def activate_scene_at(self, index: int) -> None:
        names = self.scene_names()
        if 0 <= index < len(names):
            self.activate_scene(names[index])

    def activate_scene(self, name: str) -> None:
        """Put a scene on the air (the show's picture while live, else the preview's) and
        keep it as the one to start with."""
        try:
            scenes = self.scenes_section.scenes.activating(name)
            self.session.switch_scene(name)
        except SceneError as exc:
            self._show_message(str(exc))
            return
        self.scenes_section.set_scenes(scenes)
        self._save_scenes(scenes)

    def _scenes_edited(self, scenes: SceneSet) -> None:
        self._save_scenes(scenes)
        self.session.set_scenes(scenes)
        if self.session.previewing:
            self._render_state()
        else:
            self._sources_changed()  # a scene may now show something: start the preview

    def _with_current_scenes(self, options: LiveOptions) -> LiveOptions:
        """The options with the scenes as they are now: an edit or a switch made since the
        options were read (while a question was open, or a preview waited) is not lost."""
        return dataclasses.replace(options, scenes=self.scenes_section.scenes)

    def _save_scenes(self, scenes: SceneSet) -> None:
        problem = save_scenes(self.settings, scenes)
        if problem:
            self._show_message(problem)

    # --- preview before the show -------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._preview_timer.start()  # (a burst of show events: one start)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._preview_timer.stop()
        self._submit(self.session.stop_preview())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # back to the window (the first-run guide's check may have borrowed the devices)
        activated = event.type() == QEvent.Type.ActivationChange and self.isActiveWindow()
        if activated and not self.session.previewing:
            self._preview_timer.start()

    def _sources_changed(self) -> None:
        self._render_state()
        if self.isVisible():
            self._preview_timer.start()

    def _preview_allowed(self) -> bool:
        return (
            self.isVisible()
            and self.session.state not in ("starting", "live", "ending")
            and not self._asking
        )

    def _start_preview(self) -> None:
        if not self._preview_allowed():
            return
        if not self._has_source():
            self._submit(self.session.stop_preview())
            return
        options = self.options()

        async def preview() -> None:
            try:
                await self.session.start_preview(self._with_current_scenes(options))
            except LiveError as exc:
                self._show_message(f"No preview: {exc}")
                return
            self._gain_changed(self.gain.value())
            self._mute_changed(self.mute.isChecked())

        self._submit(preview())

    def _submit(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run on the event loop; without one (a panel built outside the app) do nothing."""
        try:
            self._run(coroutine)
        except RuntimeError:  # no event loop here: nothing to preview with
            coroutine.close()

    # --- actions -----------------------------------------------------------------------

    def _go_live(self) -> None:
        options = self.options()
        if not options.title:
            self._show_message(NO_TITLE_WHY)
            return
        self.go_live.setEnabled(False)
        self._asking = True
        self._preview_timer.stop()

        async def start() -> None:
            try:
                if not await self._ready_to_announce(options.whip_url):
                    return
                self._asking = False
                await self.session.start(self._with_current_scenes(options))
            except LiveError as exc:
                self._show_message(str(exc))
            finally:
                self._asking = False
                self._render_state()
            self._gain_changed(self.gain.value())
            self._mute_changed(self.mute.isChecked())

        self._run(start())

    async def _ready_to_announce(self, whip_url: str | None) -> bool:
        """With the wallet locked, ask: unlock (and announce), go live unannounced, or
        cancel. False: do not go live now."""
        if not whip_url or not self.host.needs_unlock():
            return True
        Button = QMessageBox.StandardButton
        choices = {Button.Yes: "Unlock and announce", Button.No: "Go live unannounced"}
        if self.host.unlock is None:
            del choices[Button.Yes]
        choice = await choose(self, LOCKED_TITLE, LOCKED_TEXT, choices, Button.Yes)
        if choice == Button.No:
            self._show_message("Going live unannounced, as you chose.")
            return True
        if choice == Button.Yes and self.host.unlock is not None:
            return await self.host.unlock()  # unlock cancelled: back to the panel, not live
        return False

    def open_share(self) -> None:
        link = self.host.fan_page_url()
        if self.session.state != "live" or not link:
            return
        if self.share_dialog is not None and self.share_dialog.isVisible():
            self.share_dialog.set_link(link)
            self.share_dialog.raise_()
            return
        self.share_dialog = ShareDialog(link, self)
        show(self.share_dialog)

    def _end(self) -> None:
        self.end.setEnabled(False)
        self._run(self.session.stop())

    def _first_input(self) -> str | None:
        inputs = self.session.audio_inputs()
        return inputs[0] if inputs else None

    def _gain_changed(self, value: int) -> None:
        self.gain_label.setText(f"{value:+d} dB" if value else "0 dB")
        name = self._first_input()
        if name is not None:
            self.session.set_gain(name, float(value))

    def _mute_changed(self, muted: bool) -> None:
        name = self._first_input()
        if name is not None:
            self.session.set_muted(name, muted)

    # --- rendering ---------------------------------------------------------------------

    def _has_source(self) -> bool:
        video = LiveOptions(
            video=self.video_picker.currentData() or "none",
            overlay=self.overlay_picker.currentData() or "none",
        )
        return (self.audio_picker.currentData() or "none") != "none" or draws_something(
            self.scenes_section.scenes, video
        )

    def _state_changed(self) -> None:
        state = self.session.state
        if state != self._shown_state:
            self._shown_state = state
            if state in ("starting", "ended", "failed"):
                self._clear_show()  # nothing frozen from the show (or the preview) before
            if state in ("ended", "failed") and self.isVisible():
                self._preview_timer.start()  # back to the preview
        self._render_state()

    def _clear_show(self) -> None:
        self._meters = None
        self._picture = False
        self._shown_frame = None
        self.preview.clear()
        self.preview.setText(PREVIEW_IDLE)
        self.meter.clear()
        self.loudness.setText(LOUDNESS_IDLE)
        self.limiter_label.setText("Limiter: idle")
        self.stats_label.setText("")
        self.viewers_label.setText("")
        self.timer_label.setText(format_elapsed(0))

    def _render_state(self) -> None:
        """Each button enabled only when it does something; a disabled one says why."""
        state = self.session.state
        busy = state in ("starting", "live", "ending") or self._asking
        has_source = self._has_source()
        titled = bool(self.title.text().strip())
        self.go_live.setEnabled(not busy and has_source and titled)
        self.go_live.setToolTip(
            LIVE_WHY if busy else NO_SOURCE_WHY if not has_source
            else NO_TITLE_WHY if not titled
            else "Start the show: record and publish to the ingest."
        )  # fmt: skip
        link = self.host.fan_page_url() if state == "live" else None
        self.share.setEnabled(bool(link))
        self.share.setToolTip("The link fans watch and chat at, and its QR code."
                              if link else SHARE_WHY)  # fmt: skip
        if self.share_dialog is not None:
            if link:
                self.share_dialog.set_link(link)
            elif self.share_dialog.isVisible():
                self.share_dialog.reject()  # the show is over
        self.end.setEnabled(state == "live")
        self.end.setToolTip("End the show and save the recording." if state == "live"
                            else NOT_LIVE_WHY)  # fmt: skip
        for control in self._settings_controls():
            control.setEnabled(not busy)
        self.record_path.setEnabled(not busy and self.record.isChecked())
        self.record_path.setToolTip(
            self.record_path.text() if self.record.isChecked() else NOT_RECORDING_WHY
        )
        # On air is white on red: the one thing an artist must see at a glance.
        self.badge.setStyleSheet(
            f"#liveBadgeFrame {{ {BADGE_LIVE if state == 'live' else BADGE_IDLE} }}"
        )
        self.restream.show_states(self.session.restream_states)
        if state == "live":
            on_air = self.session.publish_state == "live" or (
                "live" in self.session.restream_states.values()
            )
            self.live_badge.setText("● LIVE" if on_air else "● RECORDING")
        else:
            self.live_badge.setText(
                {"starting": "STARTING…", "ending": "ENDING…"}.get(state, "OFF AIR")
            )

    def _settings_controls(self) -> list[QWidget]:
        return [
            self.video_picker, self.overlay_picker, self.audio_picker, self.codec_picker,
            self.whip_url, self.stream_key, self.record, self.record_path,
            self.refresh_button, self.restream,
        ]  # fmt: skip

    def _show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self._render_state()  # an announcement mid-show changes the Share link

    def _store_meters(self, meters: Any) -> None:
        self._meters = meters

    def _show_stats(self, stats: dict[str, Any]) -> None:
        if self.session.state != "live":
            return  # a last second's figures arriving after End stay unshown
        self.stats_label.setText(stats_text(stats))
        if "viewers" in stats:
            self.viewers_label.setText(f"{stats['viewers']} watching")

    def _tick(self) -> None:
        on_air = self.session.state in ("live", "ending")
        self.timer_label.setText(format_elapsed(self.session.elapsed_s if on_air else 0))
        meters = self._meters
        if meters is not None:
            clipping = any(
                max(reading.peak_db, default=-math.inf) >= CLIP_DB
                for reading in meters.inputs.values()
            )
            self.meter.set_levels(meters.program.peak_db, meters.program.rms_db, clipping)
            p = meters.program
            self.loudness.setText(
                f"M {format_lufs(p.momentary_lufs)} · S {format_lufs(p.short_term_lufs)} · "
                f"I {format_lufs(p.integrated_lufs)} LUFS"
            )
            reduction = meters.gain_reduction_db
            self.limiter_label.setText(
                f"Limiter: -{reduction:.1f} dB" if reduction >= 0.05 else "Limiter: idle"
            )
        frame = self.session.preview()  # the show's picture, else the preview's
        if frame is None and self._picture:
            self._picture = False
            self._shown_frame = None
            self.preview.clear()
            self.preview.setText(PREVIEW_IDLE)
        elif frame is not None:
            self._show_picture(frame)

    def _show_picture(self, frame: Any) -> None:
        """Scale `frame` into the preview, unless it is the picture shown already at this size:
        the pipeline hands out a new array for each new picture (10 a second during a show)
        and the same one until then, while this ticks 30 times a second."""
        size = self.preview.size()
        if frame is self._shown_frame and size == self._shown_size:
            return
        self._picture = True
        h, w, _ = frame.shape
        image = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.preview.setPixmap(
            QPixmap.fromImage(image).scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )
        self._shown_frame, self._shown_size = frame, size
        self.preview_draws += 1

    def closeEvent(self, event: Any) -> None:
        self._timer.stop()
        self._preview_timer.stop()
        for bridge in self._bridges:
            bridge.close()
        super().closeEvent(event)
