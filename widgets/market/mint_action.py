"""Mint as NFT from the Library: the window's side of studio.market.wiring.mint_track.

It asks (the Mint dialog, then the unlock dialog when the wallet is locked), lets the studio
mint and list (each transaction confirmed in the confirmation dialog), and says how it went.
Nothing here blocks: dialogs go through widgets.dialogs.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

from studio.market.minting import FAILED, MintOutcome
from studio.market.wiring import blocked_reason, mint_track
from studio.publishing.upload_queue import QueuedTrack
from widgets.dialogs import ask, message
from widgets.market.mint_dialog import MintDialog
from widgets.wallet.unlock_dialog import UnlockDialog

log = logging.getLogger(__name__)


class MintAction:
    def __init__(self, parent: QWidget, studio: Any, say: Callable[[str], None]) -> None:
        self.parent = parent
        self.studio = studio  # studio.core.Studio
        self.say = say  # the Library's status line
        self.dialog: MintDialog | None = None  # the Mint dialog while it is shown
        self.task: asyncio.Task[MintOutcome | None] | None = None
        self.state_changed: Callable[[], None] = lambda: None

    def __call__(self, track: QueuedTrack) -> None:
        if not self.running:
            self.task = asyncio.ensure_future(self.run(track))
            self.state_changed()
            self.task.add_done_callback(lambda _task: self.state_changed())

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def blocked_reason(self) -> str | None:
        if self.running:
            return "A mint is under way."
        return blocked_reason(self.studio)

    async def run(self, track: QueuedTrack) -> MintOutcome | None:
        wallet = self.studio.wallet
        royalty = int(self.studio.settings.get("nft_royalty_bps", 1000))
        self.dialog = MintDialog(track.title, wallet.network.symbol, royalty, self.parent)
        try:
            accepted = await ask(self.dialog)
            request = self.dialog.request
        finally:
            self.dialog.deleteLater()
            self.dialog = None
        if not accepted or request is None:
            return None
        if not wallet.unlocked:
            unlock = UnlockDialog(wallet, self.parent)
            try:
                if not await ask(unlock):
                    self.say("The wallet stayed locked; nothing was minted.")
                    return None
            finally:
                unlock.deleteLater()
        self.say(f"Minting {track.title}…")
        outcome = await mint_track(self.studio, track, request)
        self.say(outcome.text)
        if outcome.status == FAILED:
            log.warning("mint failed: %s", outcome.error)
            message(self.parent, "Mint as NFT", outcome.error)
        tips = getattr(self.studio, "tips", None)
        if tips is not None:
            tips.schedule_refresh()  # the Sales view lists the new editions
        return outcome
