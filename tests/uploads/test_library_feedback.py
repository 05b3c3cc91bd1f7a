"""The Library says what failed: the overall bar counts failed tracks apart (never "All
tracks: 100%" over two failures) and each whole error is readable (row tooltip, details)."""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from studio.publishing.ipfs_client import KuboClient
from studio.publishing.publisher import Publisher
from studio.publishing.service import PublishService
from studio.publishing.upload_queue import State, UploadQueue
from tests.uploads.audio import make_audio
from tests.uploads.test_library_panel import drop


async def test_failed_tracks_are_counted_and_their_whole_error_shown(
    qtbot, content_store, tmp_path: Path, artifacts_dir: Path
) -> None:
    from widgets.publishing.library_panel import LibraryPanel

    folder = tmp_path / "drop"
    folder.mkdir()
    long_name = "a track whose name is long enough to be cut in a narrow column " * 2
    broken = [folder / f"{long_name}1.wav", folder / "02 broken.wav"]
    for path in broken:
        path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    ipfs = KuboClient(content_store.url)
    queue = UploadQueue(tmp_path / "queue.sqlite3")
    service = PublishService(queue, lambda: Publisher(queue, ipfs, tmp_path / "work"))
    panel = LibraryPanel(service)
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    assert panel.overall.text() == "No tracks yet"

    drop(panel.drop_zone, broken)
    await service.wait_idle()
    tracks = service.tracks()
    assert [t.state for t in tracks] == [State.FAILED, State.FAILED]
    assert panel.overall.text() == "2 failed", "not 'All tracks: 100%'"
    for track in tracks:
        assert f"{track.title}: {track.detail}" in panel.overall.toolTip()
    item = panel.queue_view.topLevelItem(0)
    detail = tracks[0].detail
    assert panel.queue_view.itemWidget(item, 2) is None, "no 0 % bar drawn over the reason"
    assert item.text(2) and detail.endswith(item.text(2))
    assert item.toolTip(2) == detail, "the whole error, however narrow the column"
    panel.queue_view.setCurrentItem(item)
    assert panel.editor_message.text() == detail
    assert panel.editor_message.wordWrap()

    good = make_audio(folder, "opus", seconds=0.5, title="fine")
    drop(panel.drop_zone, [good])
    await service.wait_idle()
    text = panel.overall.text()  # the good one waits for a wallet, short of 100 %
    assert text.startswith("Other tracks: ") and text.endswith("% · 2 failed"), text
    qtbot.wait(100)  # the view lays its item widgets out, as it does between two paints
    panel.grab().save(str(artifacts_dir / "library_failed_tracks.png"))
    await service.aclose()
    await ipfs.aclose()
