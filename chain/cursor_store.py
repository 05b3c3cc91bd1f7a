"""Where an event follower (chain.event_follower) stopped: the store interface, and one
implementation in a JSON file for consumers without a database of their own.

A scope is one followed stream (chain, contract(s) and the consumer's own key). For each, the
store keeps the chain it was read from (genesis hash and, for a devnet, its instance id), the
last block handled (the cursor) and the hashes of the last blocks near the head, by which
the follower notices a reorg.
"""

import json
from pathlib import Path
from typing import Any, Protocol


class CursorStore(Protocol):
    def adopt_chain(self, scope: str, genesis: str, instance: str | None = None) -> bool:
        """Record which chain `scope` is read from. When it is another chain than the one
        recorded (see `same_chain`), forget the scope's cursor and blocks (and whatever the
        consumer kept for it) and return True."""
        ...

    def cursor(self, scope: str) -> int | None: ...

    def block_hash(self, scope: str, number: int) -> str | None: ...

    def remembered_blocks(self, scope: str) -> list[tuple[int, str]]:
        """(number, hash), newest first."""
        ...

    def advance(
        self, scope: str, last_block: int, block_hash: str | None = None, keep_from: int = 0
    ) -> None:
        """In one write: the cursor to `last_block`, remember its hash (when given) and
        forget remembered blocks below `keep_from`."""
        ...

    def rewind(self, scope: str, fork: int) -> None:
        """In one write: forget remembered blocks above `fork` and set the cursor to it."""
        ...


def same_chain(known: tuple[str, str | None] | None, genesis: str, instance: str | None) -> bool:
    """Whether a node reporting (`genesis`, `instance`) is on the chain recorded as `known`.

    A local devnet starts afresh on every run (same chain id and contract address), and one
    restarted within the same second can rebuild the old chain byte for byte (its genesis
    hash is the start time's second), so only its instance id tells the two apart. The id is
    compared only when both sides have one, so a node that stops answering for it is never
    taken for a new chain."""
    if known is None:
        return False
    known_genesis, known_instance = known
    if known_genesis.lower() != genesis.lower():
        return False
    return not known_instance or not instance or known_instance.lower() == instance.lower()


class FileCursorStore:
    """A CursorStore in one JSON file, replaced atomically on every write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._scopes: dict[str, dict[str, Any]] = {}
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = None
        if isinstance(saved, dict) and isinstance(saved.get("scopes"), dict):
            self._scopes = {
                str(scope): entry
                for scope, entry in saved["scopes"].items()
                if isinstance(entry, dict) and isinstance(entry.get("genesis"), str)
            }

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps({"scopes": self._scopes}), encoding="utf-8")
        temp.replace(self.path)

    def _entry(self, scope: str) -> dict[str, Any]:
        return self._scopes.setdefault(scope, {"genesis": "", "blocks": {}})

    def _blocks(self, scope: str) -> dict[str, str]:
        blocks = self._entry(scope).setdefault("blocks", {})
        return blocks if isinstance(blocks, dict) else {}

    def adopt_chain(self, scope: str, genesis: str, instance: str | None = None) -> bool:
        entry = self._scopes.get(scope)
        known = (entry["genesis"], entry.get("instance")) if entry else None
        if same_chain(known, genesis, instance):
            assert entry is not None
            if instance and not entry.get("instance"):  # the node tells its id the first time
                entry["instance"] = instance.lower()
                self._save()
            return False
        self._scopes[scope] = {"genesis": genesis.lower(), "instance": instance, "blocks": {}}
        self._save()
        return entry is not None

    def cursor(self, scope: str) -> int | None:
        value = self._scopes.get(scope, {}).get("cursor")
        return value if isinstance(value, int) else None

    def block_hash(self, scope: str, number: int) -> str | None:
        return self._blocks(scope).get(str(number))

    def remembered_blocks(self, scope: str) -> list[tuple[int, str]]:
        return sorted(((int(n), h) for n, h in self._blocks(scope).items()), reverse=True)

    def advance(
        self, scope: str, last_block: int, block_hash: str | None = None, keep_from: int = 0
    ) -> None:
        entry = self._entry(scope)
        blocks = {n: h for n, h in self._blocks(scope).items() if int(n) >= keep_from}
        if block_hash is not None:
            blocks[str(last_block)] = block_hash.lower()
        entry["blocks"], entry["cursor"] = blocks, last_block
        self._save()

    def rewind(self, scope: str, fork: int) -> None:
        entry = self._entry(scope)
        entry["blocks"] = {n: h for n, h in self._blocks(scope).items() if int(n) <= fork}
        entry["cursor"] = fork
        self._save()
