"""The Library panel with pytest-qt (offscreen): a real drop, the real pipeline behind it."""

import os
import uuid
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication

import chain.contracts  # noqa: F401 (fails loudly if our own code is broken)
from studio.publishing.ipfs_client import KuboClient
from studio.publishing.publisher import Publisher
from studio.publishing.service import PublishService
from studio.publishing.upload_queue import UploadQueue
from tests.uploads.audio import make_audio
from tests.uploads.conftest import lister_for, registrar_for


def drop(widget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    widget.dropEvent(event)


async def test_drop_publish_and_library(
    qtbot, backend, chain, artist, tmp_path: Path, artifacts_dir: Path
) -> None:
    from widgets.publishing.library_panel import LibraryPanel

    account, token = artist
    folder = tmp_path / "drop"
    folder.mkdir()
    run = uuid.uuid4().hex[:6]
    make_audio(folder, "flac", seconds=1.0, name="01 Ночь", title=f"Ночь {run}")
    make_audio(folder, "mp3", seconds=1.0, name="02 Day", title=f"Day {run}")
    (folder / "03 broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (folder / "notes.txt").write_text("not audio")
    ipfs = KuboClient(backend.url)
    queue = UploadQueue(tmp_path / "queue.sqlite3")
    service = PublishService(
        queue,
        lambda: Publisher(
            queue,
            ipfs,
            tmp_path / "work",
            registrar=registrar_for(chain, account),
            lister=lister_for(backend, token),
        ),
        gateway_url=backend.url,
    )
    panel = LibraryPanel(service)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()

    drop(panel.drop_zone, [folder])
    assert panel.refusals.isVisible() or not panel.isVisible()
    assert "notes.txt" in panel.refusals.text()
    assert panel.queue_view.topLevelItemCount() == 3
    await service.wait_idle()
    QGuiApplication.processEvents()

    rows = {
        panel.queue_view.topLevelItem(i).text(0): panel.queue_view.topLevelItem(i)
        for i in range(panel.queue_view.topLevelItemCount())
    }
    assert rows[f"Ночь {run}"].text(1) == "Listed"
    assert rows[f"Day {run}"].text(1) == "Listed"
    broken = rows["03 broken"]
    assert broken.text(1) == "Failed" and "03 broken.wav" in broken.toolTip(1)
    assert panel.overall.value() == 1000  # failed tracks do not hold the overall bar back
    assert panel.library_view.topLevelItemCount() == 2

    first = panel.library_view.topLevelItem(0)
    panel.library_view.setCurrentItem(first)
    panel.copy_button.click()
    assert QGuiApplication.clipboard().text() == first.text(1)
    assert service.gateway_link(first.text(1)) == f"{backend.url}/ipfs/{first.text(1)}"

    panel.queue_view.setCurrentItem(broken)
    assert panel.retry_button.isEnabled()
    panel.remove_button.click()
    assert panel.queue_view.topLevelItemCount() == 2
    panel.grab().save(str(artifacts_dir / "library_panel.png"))
    await service.aclose()
    await ipfs.aclose()


def test_drop_under_qasync_like_the_app(qtbot, qapp, content_store, tmp_path: Path) -> None:
    """The app runs asyncio on Qt's loop (qasync): a drop arrives in a Qt slot, not a coroutine."""
    import asyncio

    import qasync
    from PySide6.QtCore import QTimer

    from studio.publishing.upload_queue import State
    from widgets.publishing.library_panel import LibraryPanel

    path = make_audio(tmp_path, "opus", seconds=0.5, title=f"qasync {uuid.uuid4().hex}")
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        ipfs = KuboClient(content_store.url)
        queue = UploadQueue(tmp_path / "queue.sqlite3")
        service = PublishService(queue, lambda: Publisher(queue, ipfs, tmp_path / "work"))
        panel = LibraryPanel(service)
        qtbot.addWidget(panel)
        idle = asyncio.Event()
        service.idle.connect(idle.set)

        async def scenario() -> None:
            QTimer.singleShot(0, lambda: drop(panel.drop_zone, [path]))
            await asyncio.wait_for(idle.wait(), 60)

        loop.run_until_complete(scenario())
        item = panel.queue_view.topLevelItem(0)
        assert item.text(1) == "Waiting"  # on IPFS; no wallet in this test
        assert queue.all()[0].state is State.WAITING
        assert "no wallet" in item.toolTip(1)
        before = queue.all()[0].outputs["metadata_cid"]

        # Edit the details of the waiting track: a new metadata document is published.
        panel.queue_view.setCurrentItem(item)
        assert panel.editor.isEnabled()
        panel.fields["title"].setText("Édition — 編集")
        panel.fields["isrc"].setText("USRC17607839")
        idle.clear()

        async def edit() -> None:
            panel.save_button.click()
            await asyncio.wait_for(idle.wait(), 60)

        loop.run_until_complete(edit())
        loop.run_until_complete(ipfs.aclose())
        track = queue.all()[0]
        assert track.metadata["title"] == "Édition — 編集"
        assert track.outputs["metadata_cid"] != before
        assert item.text(0) == "Édition — 編集"
        queue.close()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
