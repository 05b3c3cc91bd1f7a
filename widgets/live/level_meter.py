"""The program level meter: one bar per channel on a dBFS scale, RMS filled, the peak as a
tick, the highest recent peak held for a moment, and a clip light that stays lit until
clicked (or the show starts)."""

import time

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

METER_FLOOR_DB = -60.0
SCALE_DB = (-60, -48, -36, -24, -18, -12, -6, -3, 0)
HOLD_S = 1.5  # a peak stays marked this long...
FALL_DB_PER_S = 20.0  # ...then falls at this rate
CLIP_DB = -0.1  # an input at full scale: the sound is distorted (or the limiter catches it)
CLIP_LIGHT_W = 34
SCALE_H = 14


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
        self.peak_db, self.rms_db = list(peak_db), list(rms_db)
        for i, peak in enumerate(self.peak_db[: self.channels]):
            since = now - self._held_at[i]
            fallen = self.held_db[i] - max(0.0, since - HOLD_S) * FALL_DB_PER_S
            if peak >= fallen:
                self.held_db[i], self._held_at[i] = peak, now
            else:
                self.held_db[i] = fallen
        self.clipped = self.clipped or clipping
        self.update()

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
        painter.fillRect(self.rect(), QColor("#1b1d22"))
        width = self.width() - CLIP_LIGHT_W - 4
        bars_h = self.height() - SCALE_H
        n = max(1, len(self.peak_db))
        bar_h = (bars_h - 2) / n
        for i, (peak, rms) in enumerate(zip(self.peak_db, self.rms_db, strict=False)):
            top = 1 + i * bar_h
            painter.fillRect(QRectF(0, top + 1, width, bar_h - 2), QColor("#262a31"))
            colour = "#3fb950" if rms < -18 else "#d29922" if rms < -6 else "#f85149"
            painter.fillRect(QRectF(0, top + 1, width * fraction(rms), bar_h - 2), QColor(colour))
            x = width * fraction(peak)
            painter.fillRect(QRectF(max(0.0, x - 2), top, 2, bar_h), QColor("#e6edf3"))
            if i < len(self.held_db) and self.held_db[i] > METER_FLOOR_DB:
                held = width * fraction(self.held_db[i])
                painter.fillRect(QRectF(max(0.0, held - 2), top, 2, bar_h), QColor("#ffa657"))
        painter.setPen(QColor("#8b949e"))
        font = painter.font()
        font.setPixelSize(10)
        painter.setFont(font)
        for db in SCALE_DB:
            x = width * fraction(db)
            painter.drawLine(int(x), bars_h - 1, int(x), bars_h + 2)
            align = Qt.AlignmentFlag.AlignHCenter if db not in (SCALE_DB[0], 0) else (
                Qt.AlignmentFlag.AlignLeft if db == SCALE_DB[0] else Qt.AlignmentFlag.AlignRight
            )  # fmt: skip
            box = QRectF(x - 16 if db else x - 32, bars_h + 1, 32, SCALE_H - 1)
            if db == SCALE_DB[0]:
                box = QRectF(x, bars_h + 1, 32, SCALE_H - 1)
            painter.drawText(box, align | Qt.AlignmentFlag.AlignVCenter, str(db))
        light = QRectF(self.width() - CLIP_LIGHT_W, 1, CLIP_LIGHT_W - 1, bars_h - 2)
        painter.fillRect(light, QColor("#f85149" if self.clipped else "#3a2024"))
        painter.setPen(QColor("#ffffff" if self.clipped else "#8b949e"))
        painter.drawText(light, Qt.AlignmentFlag.AlignCenter, "CLIP")
        painter.end()
