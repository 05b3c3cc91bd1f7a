"""The held tracks a reviewer decides on (backend.review), from the studio.

A backend holds a track whose recording matches another artist's (backend.fingerprints) and
names its reviewers (`--reviewer`). Whoever signs in from the studio with a reviewer's
address gets a Review page (widgets.review): the held tracks, oldest first, each listed or
kept off with a reason its artist is shown.

    queue = ReviewQueue(backend_client)
    await queue.refresh()          # queue.allowed: True for a reviewer, False if not
    await queue.decide(track, "reject", "the same master as Nova's Moonrise")

Qt-free: `changed` is emitted (with the tracks) after every refresh and decision.
"""

import logging

from backend.wire import ReviewIn, Track
from chain.errors import ChainError, WalletLockedError
from studio.errors import StudioError
from studio.signals import Signal
from studio.social.backend_client import BackendClient, BackendClientError

log = logging.getLogger(__name__)

PAGE = 100  # held tracks shown at once: the oldest ones
UNLOCK = "Unlock the wallet to sign in to the backend, then try again."


class ReviewError(StudioError):
    pass


class ReviewQueue:
    def __init__(self, client: BackendClient) -> None:
        self.client = client
        self.tracks: list[Track] = []
        # None: not known yet (not signed in); False: this backend does not name us.
        self.allowed: bool | None = None
        self.more = False  # more held tracks than shown
        self.changed = Signal()  # emits the tracks

    async def refresh(self) -> list[Track]:
        """Read the held tracks again; ReviewError says why it could not."""
        try:
            page = await self.client.held_tracks(limit=PAGE)
        except WalletLockedError as exc:
            raise ReviewError(UNLOCK) from exc
        except BackendClientError as exc:
            if exc.status == 403:
                self.allowed, self.tracks, self.more = False, [], False
                self.changed.emit(self.tracks)
                return self.tracks
            raise ReviewError(f"The held tracks could not be read: {exc}") from exc
        except ChainError as exc:
            raise ReviewError(f"The held tracks could not be read: {exc}") from exc
        self.allowed, self.tracks, self.more = True, list(page.items), page.next_offset is not None
        self.changed.emit(self.tracks)
        return self.tracks

    async def check_quietly(self) -> None:
        """After a sign-in: find out whether we review here (a failure is only logged)."""
        try:
            await self.refresh()
        except ReviewError as exc:
            log.info("held tracks not read after sign-in: %s", exc)

    async def decide(self, track: Track, decision: str, note: str = "") -> Track:
        """List `track`, or keep it off (`decision` "reject", with a reason in `note`)."""
        note = note.strip()
        if decision == "reject" and not note:
            raise ReviewError("Say why it is rejected: its artist is shown the reason.")
        try:
            decided = await self.client.review_track(
                track.id,
                ReviewIn(decision=decision, note=note),  # type: ignore[arg-type]
            )
        except WalletLockedError as exc:
            raise ReviewError(UNLOCK) from exc
        except BackendClientError as exc:
            if exc.status == 409:  # decided elsewhere meanwhile: show the queue as it is now
                self._drop(track.id)
                raise ReviewError(f"“{track.title}” was already decided: {exc}") from exc
            if exc.status == 404:
                self._drop(track.id)
                raise ReviewError(f"“{track.title}” is no longer on this backend.") from exc
            raise ReviewError(f"“{track.title}” could not be decided: {exc}") from exc
        except ChainError as exc:
            raise ReviewError(f"“{track.title}” could not be decided: {exc}") from exc
        self._drop(track.id)
        return decided

    def _drop(self, track_id: int) -> None:
        self.tracks = [t for t in self.tracks if t.id != track_id]
        self.changed.emit(self.tracks)
