"""Publish as an artist does it, in the real window: drop files on the Library's drop zone,
unlock the wallet when asked, sign the registration, copy the CID, play the track; and what
the rows say when a file is broken, the wallet is locked or the backend goes away."""

import uuid
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication

from media.sources import list_microphones
from studio.publishing.upload_queue import ACTIVE, State
from tests.uploads.audio import make_audio
from tests.window_journeys.conftest import PASSWORD, Desk, drop_files, next_dialog, wait_until

pytestmark = pytest.mark.slow


def rows(panel) -> dict[str, object]:  # type: ignore[no-untyped-def]
    view = panel.queue_view
    return {
        view.topLevelItem(i).text(0): view.topLevelItem(i) for i in range(view.topLevelItemCount())
    }


def states(desk: Desk) -> dict[str, State]:
    return {t.title: t.state for t in desk.studio.publish.tracks()}


def track_state(desk: Desk, path: Path) -> State:
    return next(t.state for t in desk.studio.publish.tracks() if t.path == path)


def row_of(panel, path: Path):  # type: ignore[no-untyped-def]
    view = panel.queue_view
    items = (view.topLevelItem(i) for i in range(view.topLevelItemCount()))
    return next(item for item in items if item.toolTip(0) == str(path))


def tracks_folder(tmp_path: Path, run_id: str) -> Path:
    folder = tmp_path / "tracks"
    folder.mkdir()
    make_audio(folder, "flac", seconds=1.0, name="01 Dawn", title=f"Dawn {run_id}")
    make_audio(folder, "mp3", seconds=1.0, name="02 Dusk", title=f"Dusk {run_id}")
    (folder / "03 broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    return folder


async def unlock(desk: Desk) -> None:
    """Answer the unlock dialog as the artist: type the password, click Unlock."""
    from widgets.wallet.unlock_dialog import UnlockDialog

    dialog = await next_dialog(UnlockDialog)
    dialog.password.setText(PASSWORD)
    dialog.unlock_button.click()
    await wait_until(lambda: desk.studio.wallet.unlocked, 60, "the wallet to unlock")


async def answer_registration(desk: Desk, accept: bool) -> list[str]:
    """The transaction confirmation for a registration: sign and send, or cancel; returns
    the titles of the tracks it named."""
    from PySide6.QtWidgets import QDialogButtonBox

    from widgets.wallet.tx_confirm_dialog import TxConfirmDialog

    try:
        dialog = await next_dialog(TxConfirmDialog)
    except AssertionError:
        details = {t.title: (t.state, t.detail) for t in desk.studio.publish.tracks()}
        raise AssertionError(f"no confirmation asked; the queue: {details}") from None
    assert "regist" in dialog.fields["Action"].text().lower(), dialog.fields["Action"].text()
    titles = [label.text() for label in dialog.track_rows]
    assert dialog.fields["Action"].text().startswith(f"Register {len(titles)} track")
    if accept:
        dialog.sign_button.click()
    else:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    await wait_until(lambda: not dialog.isVisible(), 10, "the dialog to close")
    return titles


def test_drop_publish_copy_and_play(on_desk, pulse, tmp_path: Path, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run_id = uuid.uuid4().hex[:6]
    dawn, dusk = f"Dawn {run_id}", f"Dusk {run_id}"
    folder = tracks_folder(tmp_path, run_id)
    progress: set[int] = set()

    def asks_to_unlock(desk: Desk) -> bool:
        panel = desk.library
        progress.add(panel.overall.value())
        busy = set(states(desk).values()) & set(ACTIVE)
        return panel.unlock_button.isVisible() and not busy

    async def scenario(desk: Desk) -> None:
        panel = desk.library
        desk.window.tabs.setCurrentWidget(panel)
        assert not panel.unlock_button.isVisible()
        drop_files(panel.drop_zone, [folder])
        assert set(rows(panel)) == {"01 Dawn", "02 Dusk", "03 broken"} or len(rows(panel)) == 3
        await wait_until(lambda: asks_to_unlock(desk), 120, "the panel to ask for the wallet")
        got = rows(panel)
        assert got["03 broken"].text(1) == "Failed"
        assert "03 broken.wav" in got["03 broken"].toolTip(1)
        # the reason is readable text in the row, not a sentence squeezed into a bar
        bar = panel.queue_view.itemWidget(got["03 broken"], 2)
        assert bar is None or bar.isHidden(), "no progress bar over a failed row's reason"
        assert got["03 broken"].text(2).startswith("not a readable audio file")
        assert "unlock" in got[dawn].toolTip(1) and got[dawn].text(3), "on IPFS, waiting"
        assert "unlock" in panel.unlock_button.toolTip().lower()
        panel.unlock_button.click()
        await unlock(desk)
        # both tracks in one confirmation: the artist declines it, then signs each again
        assert sorted(await answer_registration(desk, accept=False)) == [dawn, dusk]
        await wait_until(
            lambda: states(desk)[dawn] is states(desk)[dusk] is State.FAILED, 30, "both declined"
        )
        for title in (dawn, dusk):
            declined = rows(panel)[title]
            assert declined.text(1) == "Failed" and "declined" in declined.toolTip(1)
            panel.queue_view.setCurrentItem(declined)
            assert panel.retry_button.isEnabled()
            panel.retry_button.click()
            assert await answer_registration(desk, accept=True) == [title]
            await wait_until(lambda t=title: states(desk)[t] is State.LISTED, 90, f"{title} listed")
        await wait_until(
            lambda: panel.library_view.topLevelItemCount() == 2, 30, "two published tracks"
        )

        assert any(0 < value < 1000 for value in progress), progress
        got = rows(panel)
        assert got[dawn].text(1) == "Listed" and got[dusk].text(1) == "Listed"
        assert got["03 broken"].text(1) == "Failed"
        assert len(desk.studio.publish.tracks()) == 3, "nothing lost, nothing added twice"
        assert not panel.unlock_button.isVisible()
        panel.grab().save(str(artifacts_dir / "window-library-published-and-failed.png"))

        first = panel.library_view.topLevelItem(0)
        panel.library_view.setCurrentItem(first)
        assert panel.copy_button.isEnabled() and panel.play_button.isEnabled()
        panel.copy_button.click()
        assert QGuiApplication.clipboard().text() == first.text(1)
        list_microphones(refresh=True)  # PortAudio re-scans and finds the private PulseAudio
        panel.play_button.click()
        assert panel.play_button.text() == "Stop"
        await wait_until(lambda: panel.player_status.text() == "Playing", 30, "playback")
        panel.play_button.click()
        await wait_until(lambda: panel.play_button.text() == "Play", 30, "playback to stop")

    on_desk(scenario)


def test_backend_stopped_while_publishing_says_so_and_resumes_when_back(
    on_desk, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run_id = uuid.uuid4().hex[:6]
    title = f"Night {run_id}"
    path = make_audio(tmp_path, "flac", seconds=1.0, name="Night", title=title)

    async def scenario(desk: Desk) -> None:
        panel, backend = desk.library, desk.studio.local_backend
        desk.window.tabs.setCurrentWidget(panel)
        port = backend.port
        backend.process.kill()
        backend.process.wait()
        drop_files(panel.drop_zone, [path])
        await wait_until(
            lambda: track_state(desk, path) in (State.FAILED, State.WAITING),
            120,
            "the upload to stop",
        )
        row = row_of(panel, path)
        assert "unreachable" in row.toolTip(1).lower()
        await backend._start_once(port)  # the backend is back, where it was
        await wait_until(
            lambda: "unlock" in row_of(panel, path).toolTip(1),
            120,
            "the upload to resume by itself",
        )
        assert track_state(desk, path) is State.WAITING and row_of(panel, path).text(3)
        assert len(desk.studio.publish.tracks()) == 1

    on_desk(scenario)
