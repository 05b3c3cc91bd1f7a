"""The Stats dock: the show's figures as numbers and 60-second graphs, the encoder's and each
output's (WHIP and every RTMP destination), what is wrong in plain words, and what the studio
stepped down on its own. It renders `LiveSession.health` (studio.live.health) once a second;
it measures nothing itself."""

import math
from typing import Any

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.live.health import ENCODER_FIGURES, HISTORY_S, Figure, History, ShowHealth
from studio.live.session import LiveSession
from widgets.bridge import SignalBridge

IDLE_TEXT = "Figures appear when you go live."
WARNING_STYLE = (
    "background: #3d2a00; color: #ffd58a; border: 1px solid #9e6a03; border-radius: 4px; "
    "padding: 6px;"
)
STEP_STYLE = (
    "background: #0c2d4a; color: #a5d6ff; border: 1px solid #1f6feb; border-radius: 4px; "
    "padding: 6px;"
)
STATE_COLOURS = {"live": "#6fdc8c", "failed": "#ff7b72", "reconnecting": "#ffd58a"}


def format_figure(figure: Figure, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if figure.unit == "%":
        return f"{value:.1f} %"
    if figure.unit == "/s":
        return f"{value:.0f}/s"
    return f"{value:.0f} {figure.unit}"


class Sparkline(QWidget):
    """The last minute of one figure: a line over a fixed 60-second width, scaled to its
    own maximum (at least `floor`, so a quiet figure stays near the bottom)."""

    def __init__(self, floor: float = 1.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: list[float | None] = []
        self.floor = floor
        self.setMinimumSize(120, 26)

    def set_values(self, values: list[float | None]) -> None:
        self.values = values[-HISTORY_S:]
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#161b22"))
        known = [v for v in self.values if v is not None]
        if known:
            top = max(self.floor, max(known)) * 1.1
            w, h = self.width() - 2, self.height() - 3
            step = w / (HISTORY_S - 1)
            start = HISTORY_S - len(self.values)
            points = [
                QPointF(1 + (start + i) * step, 1 + h - h * (v / top))
                for i, v in enumerate(self.values)
                if v is not None
            ]
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor("#58a6ff"), 1.5))
            if len(points) == 1:
                painter.drawEllipse(points[0], 1.5, 1.5)
            painter.drawPolyline(QPolygonF(points))
        painter.end()


class FigureTable(QGroupBox):
    """One row per figure of the encoder or of an output: its name, its latest value (fixed
    width, so the layout does not move as numbers change) and its last minute."""

    def __init__(
        self, title: str, figures: tuple[Figure, ...], parent: QWidget | None = None
    ) -> None:
        super().__init__(title, parent)
        self.figures = figures
        self.values: dict[str, QLabel] = {}
        self.graphs: dict[str, Sparkline] = {}
        digits = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        grid = QGridLayout(self)
        grid.setColumnStretch(2, 1)
        grid.setVerticalSpacing(2)
        widest = max((format_figure(f, 88888.8) for f in figures), key=len)
        for row, figure in enumerate(figures):
            value = QLabel("–")
            value.setObjectName(f"stat_{figure.key}")
            value.setFont(digits)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setFixedWidth(value.fontMetrics().horizontalAdvance(widest) + 8)
            graph = Sparkline(figure.floor)
            graph.setObjectName(f"graph_{figure.key}")
            graph.setToolTip(f"{figure.label}, the last {HISTORY_S} seconds")
            self.values[figure.key], self.graphs[figure.key] = value, graph
            grid.addWidget(QLabel(figure.label), row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(graph, row, 2)

    def show_history(self, history: History | None) -> None:
        """`history`'s figures; blank for None."""
        for figure in self.figures:
            latest = history.latest(figure.key) if history is not None else None
            self.values[figure.key].setText(format_figure(figure, latest))
            self.graphs[figure.key].set_values(history.series(figure.key) if history else [])


class StatsDock(QWidget):
    # A sentence for the status bar: the studio stepped the show down on its own.
    notice = Signal(str)

    def __init__(self, session: LiveSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statsDock")
        self.session = session
        self.outputs: dict[str, FigureTable] = {}
        self._steps_told = 0
        self._setup_ui()
        self._bridges = [
            SignalBridge(session.stats_changed, self),
            SignalBridge(session.state_changed, self),
        ]
        self._bridges[0].fired.connect(lambda _stats: self.render())
        self._bridges[1].fired.connect(lambda _s: self.render())
        self.render()

    def _setup_ui(self) -> None:
        self.status = QLabel(IDLE_TEXT)
        self.status.setObjectName("statsStatus")
        self.status.setWordWrap(True)
        self.step_down = QLabel("")
        self.step_down.setObjectName("statsStepDown")
        self.step_down.setWordWrap(True)
        self.step_down.setStyleSheet(STEP_STYLE)
        self.step_down.hide()
        self.warnings = QLabel("")
        self.warnings.setObjectName("statsWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(WARNING_STYLE)
        self.warnings.hide()
        self.encoder = FigureTable("Encoder", ENCODER_FIGURES)
        self.encoder.setObjectName("statsEncoder")
        self.totals = QLabel("")
        self.totals.setObjectName("statsTotals")
        self.totals.setWordWrap(True)
        self.body = body = QWidget()  # everything, scrolled when the dock is short
        self._rows = QVBoxLayout(body)
        for widget in (self.status, self.step_down, self.warnings, self.encoder):
            self._rows.addWidget(widget)
        self._outputs_at = self._rows.count()  # output tables go here, in the outputs' order
        self._rows.addWidget(self.totals)
        self._rows.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.addWidget(scroll)

    @property
    def health(self) -> ShowHealth:
        return self.session.health

    # the encoder's figures, by key (what a test or a screen reader looks for first)
    @property
    def values(self) -> dict[str, QLabel]:
        return self.encoder.values

    @property
    def graphs(self) -> dict[str, Sparkline]:
        return self.encoder.graphs

    def render(self) -> None:
        """The figures while live; blank otherwise (an ended show's figures are not shown
        as if they were current)."""
        health, session = self.health, self.session
        live = session.state == "live"
        self.encoder.show_history(health.encoder if live else None)
        self._show_outputs(health if live else None)
        quality = session.quality
        if live:
            picture = f"{quality.size} at {quality.kbps}" if quality else "no video"
            self.status.setText(f"Live · video {picture}")
            self.totals.setText(
                f"Since the start: {health.dropped_total} frames dropped, "
                f"{health.repeated_total} repeated, {health.late_total} late"
            )
        else:
            self.status.setText(IDLE_TEXT)
            self.totals.setText("")
        steps = session.step_downs if live else []
        self.step_down.setText("\n\n".join(step.message for step in steps[-2:]))
        self.step_down.setVisible(bool(steps))
        if len(steps) > self._steps_told:
            self.notice.emit(steps[-1].message)
        self._steps_told = len(steps)
        consent = bool(session.options is not None and session.options.auto_step_down)
        warnings = health.warnings(steps_down=consent) if live else []
        self.warnings.setText("\n\n".join(warnings))
        self.warnings.setVisible(bool(warnings))

    def _show_outputs(self, health: ShowHealth | None) -> None:
        """A table per output while live, titled with its state; none otherwise."""
        outputs = health.outputs if health is not None else {}
        if list(outputs) != list(self.outputs):
            for table in self.outputs.values():
                table.setParent(None)
                table.deleteLater()
            self.outputs = {}
            for index, (name, output) in enumerate(outputs.items()):
                table = self.outputs[name] = FigureTable(name, output.figures)
                table.setObjectName(f"statsOutput_{name}")
                self._rows.insertWidget(self._outputs_at + index, table)
        for name, output in outputs.items():
            table = self.outputs[name]
            state = output.state or "waiting"
            table.setTitle(f"{name} · {state}")
            colour = STATE_COLOURS.get(state)
            style = f"QGroupBox::title {{ color: {colour}; }}" if colour else ""
            if table.styleSheet() != style:
                table.setStyleSheet(style)
            table.setToolTip(output.error or "")
            table.show_history(output)

    def closeEvent(self, event: Any) -> None:
        for bridge in self._bridges:
            bridge.close()
        super().closeEvent(event)
