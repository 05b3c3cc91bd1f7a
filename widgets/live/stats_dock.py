"""The Stats dock: the show's figures as numbers and 60-second graphs, and what is wrong in
plain words. It renders `LiveSession.health` (studio.live.health) once a second; it
measures nothing itself."""

import math
from typing import Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFontDatabase, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from studio.live.health import FIGURES, HISTORY_S, Figure, ShowHealth
from studio.live.session import LiveSession
from widgets.bridge import SignalBridge

IDLE_TEXT = "Figures appear when you go live."
WARNING_STYLE = (
    "background: #3d2a00; color: #ffd58a; border: 1px solid #9e6a03; border-radius: 4px; "
    "padding: 6px;"
)


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


GRAPH_FLOORS = {"dropped": 5.0, "late": 5.0, "loss_pct": 5.0, "encoder_load_pct": 100.0}


class StatsDock(QWidget):
    def __init__(self, session: LiveSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statsDock")
        self.session = session
        self.values: dict[str, QLabel] = {}
        self.graphs: dict[str, Sparkline] = {}
        self._setup_ui()
        self._bridges = [
            SignalBridge(session.stats_changed, self),
            SignalBridge(session.state_changed, self),
        ]
        self._bridges[0].fired.connect(lambda _stats: self.render())
        self._bridges[1].fired.connect(lambda _s: self.render())
        self.render()

    def _setup_ui(self) -> None:
        digits = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        grid = QGridLayout()
        grid.setColumnStretch(2, 1)
        widest = max((format_figure(f, 88888.8) for f in FIGURES), key=len)
        for row, figure in enumerate(FIGURES):
            name = QLabel(figure.label)
            value = QLabel("–")
            value.setObjectName(f"stat_{figure.key}")
            value.setFont(digits)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setFixedWidth(value.fontMetrics().horizontalAdvance(widest) + 8)
            graph = Sparkline(GRAPH_FLOORS.get(figure.key, 1.0))
            graph.setObjectName(f"graph_{figure.key}")
            graph.setToolTip(f"{figure.label}, the last {HISTORY_S} seconds")
            self.values[figure.key], self.graphs[figure.key] = value, graph
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(graph, row, 2)
        self.totals = QLabel("")
        self.totals.setObjectName("statsTotals")
        self.status = QLabel(IDLE_TEXT)
        self.status.setObjectName("statsStatus")
        self.status.setWordWrap(True)
        self.warnings = QLabel("")
        self.warnings.setObjectName("statsWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(WARNING_STYLE)
        self.warnings.hide()
        root = QVBoxLayout(self)
        root.addWidget(self.status)
        root.addLayout(grid)
        root.addWidget(self.totals)
        root.addWidget(self.warnings)
        root.addStretch(1)

    @property
    def health(self) -> ShowHealth:
        return self.session.health

    def render(self) -> None:
        """The figures while live; blank otherwise (an ended show's figures are not shown
        as if they were current)."""
        health = self.health
        live = self.session.state == "live"
        for figure in FIGURES:
            latest = health.latest(figure.key) if live else None
            self.values[figure.key].setText(format_figure(figure, latest))
            self.graphs[figure.key].set_values(health.series(figure.key) if live else [])
        if live:
            self.status.setText(f"Output: {self.session.publish_state}")
            self.totals.setText(
                f"Since the start: {health.dropped_total} frames dropped, "
                f"{health.repeated_total} repeated, {health.late_total} late"
            )
        else:
            self.status.setText(IDLE_TEXT)
            self.totals.setText("")
        warnings = health.warnings() if live else []
        self.warnings.setText("\n\n".join(warnings))
        self.warnings.setVisible(bool(warnings))

    def closeEvent(self, event: Any) -> None:
        for bridge in self._bridges:
            bridge.close()
        super().closeEvent(event)
