"""The local chain deleted between two runs: the studio notices it through the devnet's
instance id, says so once, shows the tracks registered on the old chain as "On a previous
local chain" (never "Listed") with Register again, and the wallet's old transactions as of
a previous chain (never "confirmed"). A restart on the same chain changes nothing."""

import asyncio
import logging
import shutil
import uuid
from pathlib import Path

import pytest

from backend.devnet import STORE_FILE
from chain import contracts
from chain.txstore import MINED, PREVIOUS_CHAIN
from studio.publishing.upload_queue import ACTIVE, State
from tests.uploads.audio import make_audio
from tests.window_journeys.conftest import Desk, drop_files, open_desk, wait_until
from tests.window_journeys.test_library import answer_registration, row_of, states, unlock

pytestmark = pytest.mark.slow


def chain_replaced_events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "chain_replaced"]


async def register_when_asked(desk: Desk, title: str) -> None:
    """Unlock the wallet the panel asks for, sign the registration, wait for "Listed"."""
    panel = desk.library
    await wait_until(
        lambda: panel.unlock_button.isVisible() and not set(states(desk).values()) & set(ACTIVE),
        120,
        "the panel to ask for the wallet",
    )
    panel.unlock_button.click()
    await unlock(desk)
    assert await answer_registration(desk, accept=True) == [title]
    await wait_until(lambda: states(desk)[title] is State.LISTED, 90, f"{title} listed")


def test_a_deleted_local_chain_is_noticed_once_and_tracks_register_again(
    qasync_loop: asyncio.AbstractEventLoop,
    vault,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    artifacts_dir: Path,
) -> None:
    caplog.set_level(logging.INFO)
    home = tmp_path / "desk"
    title = f"Dawn {uuid.uuid4().hex[:6]}"
    folder = tmp_path / "tracks"
    folder.mkdir()
    path = make_audio(folder, "flac", seconds=1.0, name="01 Dawn", title=title)
    first: dict[str, object] = {}

    async def publish() -> None:
        async with open_desk(home) as desk:
            desk.window.tabs.setCurrentWidget(desk.library)
            drop_files(desk.library.drop_zone, [folder])
            await register_when_asked(desk, title)
            (track,) = desk.studio.publish.tracks()
            first.update(cid=track.cid, tx=track.tx_hash, chain=desk.studio.wallet.chain)
            assert desk.studio.wallet.txs.store.get(track.tx_hash).status == MINED

    async def same_chain_again() -> None:
        async with open_desk(home) as desk:
            assert desk.studio.wallet.chain == first["chain"], "the chain kept its identity"
            assert not desk.studio.wallet.chain.replaced
            assert states(desk) == {title: State.LISTED}
            assert row_of(desk.library, path).text(1) == "Listed"
            assert desk.studio.status.chain_notice == ""
            assert desk.studio.wallet.txs.store.get(first["tx"]).status == MINED

    async def new_chain() -> None:
        async with open_desk(home) as desk:
            studio, panel = desk.studio, desk.library
            assert studio.wallet.chain.instance != first["chain"].instance
            assert studio.wallet.chain.replaced
            (track,) = studio.publish.tracks()
            assert track.state is State.PREVIOUS_CHAIN and track.tx_hash is None
            assert studio.publish.queue.registration(track.cid) is None
            row = row_of(panel, path)
            assert row.text(1) == "On a previous local chain"
            assert "Register it again" in row.text(2)
            assert panel.library_view.topLevelItemCount() == 0, "not among the published"
            notice = studio.status.chain_notice
            assert "local chain is new" in notice and "1 track" in notice
            assert desk.window.status_bar.currentMessage() == notice
            old_tx = studio.wallet.txs.store.get(first["tx"])
            assert old_tx.status == PREVIOUS_CHAIN
            assert all(r.status != MINED for r in studio.wallet.recent())
            history = desk.journeys.wallet_panel.history
            await wait_until(lambda: history.rowCount() > 0, 10, "the wallet's history")
            shown = {history.item(i, 0).text() for i in range(history.rowCount())}
            assert shown == {"⌀ on a previous local chain"}, shown
            registry = studio.wallet.contract(contracts.CONTENT_REGISTRY)
            assert int(registry.functions.artist_of(track.cid).call(), 16) == 0, "not on it"
            desk.window.tabs.setCurrentWidget(panel)
            panel.queue_view.setCurrentItem(row)
            assert panel.retry_button.text() == "Register again"
            assert panel.retry_button.isEnabled()
            assert panel.overall.text() == "1 on a previous chain"
            button = panel.retry_button
            await wait_until(lambda: button.width() >= button.sizeHint().width(), 10, "layout")
            panel.grab().save(str(artifacts_dir / "window-library-previous-chain.png"))
            panel.retry_button.click()
            await register_when_asked(desk, title)
            (track,) = studio.publish.tracks()
            # the same CID; the transaction may even have the old hash (same nonce, same bytes)
            assert track.cid == first["cid"]
            assert registry.functions.artist_of(track.cid).call() == studio.wallet.address
            assert studio.wallet.txs.store.get(track.tx_hash).status == MINED
            registration = studio.publish.queue.registration(track.cid)
            assert registration["instance"] == studio.wallet.chain.instance
            assert row_of(panel, path).text(1) == "Listed"
            assert panel.retry_button.text() == "Retry"

    async def whole() -> None:
        await publish()
        await same_chain_again()
        assert chain_replaced_events(caplog) == []
        shutil.rmtree(home / "data" / "backend" / STORE_FILE.parent)  # the user deletes it
        await new_chain()
        (said,) = chain_replaced_events(caplog)
        assert said.tracks == 1 and said.transactions >= 1
        await same_chain_again_after_new()

    async def same_chain_again_after_new() -> None:
        async with open_desk(home) as desk:
            assert not desk.studio.wallet.chain.replaced
            assert states(desk) == {title: State.LISTED}
            assert desk.studio.status.chain_notice == ""

    qasync_loop.run_until_complete(asyncio.wait_for(whole(), 600))
    assert len(chain_replaced_events(caplog)) == 1, "said once"
