"""The program level meter: one bar per channel on a dBFS scale, RMS filled, the peak as a
tick, the highest recent peak held for a moment, and a clip light that stays lit until
clicked (or the show starts)."""

import time

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QWidget

METER_FLOOR_DB = -60.0
SCALE_DB = (-60, -48, -36, -24, -18, -12, -6, -3, 0)
HOLD_S = 1.5  # a peak stays marked this long...
FALL_DB_PER_S = 20.0  # ...then falls at this rate
CLIP_DB = -0.1  # an input at full scale: the sound is distorted (or the limiter catches it)
CLIP_LIGHT_W = 34
SCALE_H = 14
SCALE_COLOUR = "#8b949e"


def fraction(db: float) -> float:
    """Where `db` sits on the meter, 0 (floor) to 1 (0 dBFS)."""
    return min(1.0, max(0.0, (db - METER_FLOOR_DB) / -METER_FLOOR_DB))


class LevelMeter(QWidget):
    """Horizontal bars, one per channel, -60..0 dBFS, with a scale below and a clip light."""

    def __init__(self, channels: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("levelMeter")
        self.channels = channels
        self.peak_db = [METER_FLOOR_DB] * channels
        self.rms_db = [METER_FLOOR_DB] * channels
        self.held_db = [METER_FLOOR_DB] * channels
        self._held_at = [0.0] * channels
        self.clipped = False
        self._static: QPixmap | None = None  # see _static_pixmap
        self._static_key: tuple[object, ...] | None = None
        self.static_builds = 0  # how often the static part was drawn (tests count it)
        # paintEvent covers every pixel: what is behind (the page) is not painted first
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumHeight(12 * channels + SCALE_H + 6)
        self.setMinimumWidth(200)
        self.setToolTip("Program level in dBFS. The light on the right turns red when an "
                        "input reaches full scale; click it to reset.")  # fmt: skip

    def set_levels(
        self,
        peak_db: tuple[float, ...],
        rms_db: tuple[float, ...],
        clipping: bool = False,
        now: float | None = None,
    ) -> None:
        now = time.monotonic() if now is None else now
        shown = self._drawn()
        self.peak_db, self.rms_db = list(peak_db), list(rms_db)
        for i, peak in enumerate(self.peak_db[: self.channels]):
            since = now - self._held_at[i]
            fallen = self.held_db[i] - max(0.0, since - HOLD_S) * FALL_DB_PER_S
            if peak >= fallen:
                self.held_db[i], self._held_at[i] = peak, now
            else:
                self.held_db[i] = fallen
        self.clipped = self.clipped or clipping
        if self._drawn() != shown:  # 30 times a second: repaint only what moved (not silence)
            self.update()

    def _drawn(self) -> tuple[object, ...]:
        """What paintEvent draws from the levels: equal tuples, equal pictures."""
        width = self._bars_width()
        bars = tuple(
            (
                width * fraction(rms),
                _bar_colour(rms),
                width * fraction(peak),
                width * fraction(self.held_db[i])
                if i < len(self.held_db) and self.held_db[i] > METER_FLOOR_DB
                else None,
            )
            for i, (peak, rms) in enumerate(zip(self.peak_db, self.rms_db, strict=False))
        )
        return width, bars, self.clipped

    def _bars_width(self) -> int:
        return self.width() - CLIP_LIGHT_W - 4

    def clear(self) -> None:
        """Back to silence, the held peaks and the clip light too (a new show, or none)."""
        floor = [METER_FLOOR_DB] * self.channels
        self.peak_db, self.rms_db, self.held_db = list(floor), list(floor), list(floor)
        self.clipped = False
        self.update()

    def reset_clip(self) -> None:
        self.clipped = False
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.position().x() >= self.width() - CLIP_LIGHT_W:
            self.reset_clip()
        super().mousePressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._static_pixmap())
        _width, bars, _clipped = self._drawn()
        bar_h = (self.height() - SCALE_H - 2) / max(1, len(self.peak_db))
        for i, (rms_x, colour, peak_x, held_x) in enumerate(bars):
            top = 1 + i * bar_h
            painter.fillRect(QRectF(0, top + 1, rms_x, bar_h - 2), QColor(colour))
            painter.fillRect(QRectF(max(0.0, peak_x - 2), top, 2, bar_h), QColor("#e6edf3"))
            if held_x is not None:
                painter.fillRect(QRectF(max(0.0, held_x - 2), top, 2, bar_h), QColor("#ffa657"))
        painter.setPen(QColor(SCALE_COLOUR))  # the scale's ticks stay over the bars' ticks
        self._draw_ticks(painter)
        painter.end()

    def _static_pixmap(self) -> QPixmap:
        """Background, empty bars, the dB scale and the clip light: drawn (text and all) only
        when the size, the screen's pixel ratio, the channels or the clip light change."""
        dpr = self.devicePixelRatioF()
        bars = min(len(self.peak_db), len(self.rms_db))
        key = (self.width(), self.height(), dpr, len(self.peak_db), bars, self.clipped)
        if self._static is not None and self._static_key == key:
            return self._static
        self.static_builds += 1
        pixmap = QPixmap(round(self.width() * dpr), round(self.height() * dpr))
        pixmap.setDevicePixelRatio(dpr)
        painter = QPainter(pixmap)
        painter.fillRect(self.rect(), QColor("#1b1d22"))
        width = self._bars_width()
        bars_h = self.height() - SCALE_H
        n = max(1, len(self.peak_db))
        bar_h = (bars_h - 2) / n
        for i in range(bars):
            top = 1 + i * bar_h
            painter.fillRect(QRectF(0, top + 1, width, bar_h - 2), QColor("#262a31"))
        painter.setPen(QColor(SCALE_COLOUR))
        font = QFont(self.font())  # a widget's painter starts with its font, a pixmap's not
        font.setPixelSize(10)
        painter.setFont(font)
        self._draw_ticks(painter)
        for db in SCALE_DB:
            x = width * fraction(db)
            align = Qt.AlignmentFlag.AlignHCenter if db not in (SCALE_DB[0], 0) else (
                Qt.AlignmentFlag.AlignLeft if db == SCALE_DB[0] else Qt.AlignmentFlag.AlignRight
            )  # fmt: skip
            box = QRectF(x - 16 if db else x - 32, bars_h + 1, 32, SCALE_H - 1)
            if db == SCALE_DB[0]:
                box = QRectF(x, bars_h + 1, 32, SCALE_H - 1)
            painter.drawText(box, align | Qt.AlignmentFlag.AlignVCenter, str(db))
        light = QRectF(self.width() - CLIP_LIGHT_W, 1, CLIP_LIGHT_W - 1, bars_h - 2)
        painter.fillRect(light, QColor("#f85149" if self.clipped else "#3a2024"))
        painter.setPen(QColor("#ffffff" if self.clipped else SCALE_COLOUR))
        painter.drawText(light, Qt.AlignmentFlag.AlignCenter, "CLIP")
        painter.end()
        self._static, self._static_key = pixmap, key
        return pixmap

    def _draw_ticks(self, painter: QPainter) -> None:
        width, bars_h = self._bars_width(), self.height() - SCALE_H
        for db in SCALE_DB:
            x = int(width * fraction(db))
            painter.drawLine(x, bars_h - 1, x, bars_h + 2)


def _bar_colour(rms: float) -> str:
    return "#3fb950" if rms < -18 else "#d29922" if rms < -6 else "#f85149"
