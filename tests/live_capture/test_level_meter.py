"""The program level meter draws its static parts (background, dB scale, clip light) once
per size, not 30 times a second, and looks exactly as it did when it drew everything."""

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent

from widgets.live.level_meter import (
    CLIP_LIGHT_W,
    METER_FLOOR_DB,
    SCALE_DB,
    SCALE_H,
    LevelMeter,
    fraction,
)


class EverythingEachTime(LevelMeter):
    """The meter's paint before the static parts were cached, kept to compare against."""

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


LEVELS = [  # (peak, rms, clipping): silence, quiet, loud, the tone, a clip, after it
    ((-120.0, -120.0), (-120.0, -120.0), False),
    ((-30.0, -33.0), (-40.0, -41.5), False),
    ((-4.0, -7.5), (-9.0, -12.0), False),
    ((-20.0, -20.0), (-23.0, -23.0), False),
    ((-0.05, -2.0), (-3.0, -5.0), True),
    ((-50.0, -45.0), (-55.0, -52.0), False),
]


def images(meter: LevelMeter, now: float) -> list[QImage]:
    shots = []
    for i, (peak, rms, clipping) in enumerate(LEVELS):
        meter.set_levels(peak, rms, clipping, now=now + i * 0.7)
        shots.append(meter.grab().toImage())
    return shots


@pytest.mark.parametrize(("channels", "size"), [(2, (300, 40)), (1, (520, 31)), (2, (233, 57))])
def test_the_meter_looks_as_it_did_when_it_drew_everything_each_frame(
    qtbot, channels: int, size: tuple[int, int]
) -> None:  # type: ignore[no-untyped-def]
    new, old = LevelMeter(channels), EverythingEachTime(channels)
    for meter in (new, old):
        qtbot.addWidget(meter)
        meter.resize(*size)
    for after, before in zip(images(new, 50.0), images(old, 50.0), strict=True):
        assert after == before  # pixel for pixel
    new.reset_clip()
    old.reset_clip()
    assert new.grab().toImage() == old.grab().toImage()


def test_the_scale_is_drawn_once_per_size_not_per_frame(qtbot) -> None:  # type: ignore[no-untyped-def]
    meter = LevelMeter(2)
    qtbot.addWidget(meter)
    meter.resize(300, 40)
    for frame in range(300):
        level = -40.0 + (frame % 30)
        meter.set_levels((level, level - 2), (level - 6, level - 8), now=frame / 30)
        meter.grab()
    assert meter.static_builds == 1
    meter.resize(400, 40)
    meter.grab()
    meter.grab()
    assert meter.static_builds == 2  # a new size: drawn again, once


def test_levels_that_change_nothing_visible_repaint_nothing(qtbot) -> None:  # type: ignore[no-untyped-def]
    meter = LevelMeter(2)
    qtbot.addWidget(meter)
    meter.resize(300, 40)
    updates: list[int] = []
    meter.update = lambda: updates.append(1)  # type: ignore[method-assign]
    meter.set_levels((-20.0, -20.0), (-23.0, -23.0), now=10.0)
    assert len(updates) == 1
    meter.set_levels((-20.0, -20.0), (-23.0, -23.0), now=10.1)  # the same, held peak too
    meter.set_levels((-20.0, -20.0), (-23.0, -23.0), now=10.2)
    assert len(updates) == 1
    meter.set_levels((-19.0, -20.0), (-23.0, -23.0), now=10.3)
    assert len(updates) == 2
    meter.clear()
    meter.set_levels((-130.0, -140.0), (-150.0, -150.0), now=20.0)  # silence, below the floor
    before = len(updates)
    meter.set_levels((-125.0, -135.0), (-145.0, -149.0), now=20.1)  # another silence
    assert len(updates) == before
    meter.set_levels((-125.0, -135.0), (-145.0, -149.0), clipping=True, now=20.2)
    assert len(updates) == before + 1  # the clip light


def test_the_meter_paints_every_pixel_so_the_page_behind_is_not_repainted(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QWidget

    page = QWidget()
    page.setStyleSheet("background: #ff00ff;")
    qtbot.addWidget(page)
    page.resize(340, 60)
    meter = LevelMeter(2, page)
    meter.setGeometry(10, 10, 300, 40)
    meter.set_levels((-12.0, -30.0), (-20.0, -40.0), now=5.0)
    # Qt skips painting the page under a widget that says it is opaque (30 times a second)
    assert meter.testAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
    shot = page.grab().toImage().copy(10, 10, 300, 40)
    magenta = QColor("#ff00ff").rgb()
    assert all(
        shot.pixel(x, y) != magenta for x in range(shot.width()) for y in range(shot.height())
    )
