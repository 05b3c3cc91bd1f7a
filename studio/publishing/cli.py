"""`harmonie-studio publish PATH... [--dry-run] [--account A] [--password-file F] [--yes]`:
the publish pipeline from the shell.

Prints one JSON line per track (`path`, `cid`, `status`, and the reason when there is one).
`--dry-run` analyses and computes CIDs without uploading or sending anything, and leaves the
persistent queue untouched. Otherwise the studio's wallet is composed as the window composes
it (`Studio.start_wallet`) and unlocked from the shell (studio.publish_wallet); its
transactions are sent with `--yes`, or each after a yes on the terminal, never otherwise.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from studio.core import Studio
from studio.profiles import EMBEDDED
from studio.publishing.ipfs_client import KuboClient
from studio.publishing.publisher import Publisher
from studio.publishing.upload_queue import QueuedTrack, Refused, State, UploadQueue
from studio.publishing.wiring import (
    QUEUE_FILE,
    publisher_for,
    queue_path,
    rendition_for,
)
from studio.wallet.shell_unlock import (
    HEADLESS_UNLOCK_S,
    PASSWORD_ENV,
    PublishWalletError,
    choose_account,
    command_line_consent,
    read_password,
)


def add_publish_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    publish = sub.add_parser(
        "publish",
        help="publish audio files or folders to IPFS and the content registry",
        description=(
            "Analyse, upload, register and list tracks; one JSON line per track. Each track's "
            "content-registry transaction is sent from your wallet only with your consent: "
            "--yes, else a question per transaction on the terminal (without a terminal the "
            "command refuses). The wallet's password is read from --password-file (first "
            f"line), else ${PASSWORD_ENV}, else asked on the terminal."
        ),
    )
    publish.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    publish.add_argument(
        "--dry-run", action="store_true", help="analyse and compute CIDs; upload and send nothing"
    )
    publish.add_argument("--ipfs-api", default=None, help="Kubo RPC API URL (overrides profile)")
    publish.add_argument(
        "--rendition",
        choices=["opus", "mp3", "none"],
        default=None,
        help="streaming rendition (default from settings: opus)",
    )
    publish.add_argument(
        "--account",
        default=None,
        metavar="ADDRESS",
        help="wallet account to publish with (default: the remembered one, or the only one)",
    )
    publish.add_argument(
        "--password-file",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"file whose first line is the wallet's password (else ${PASSWORD_ENV} or a prompt)",
    )
    publish.add_argument(
        "--yes",
        action="store_true",
        help="consent to every transaction this run sends (one registration per track, and an "
        "NFT mint per track when minting is on in Settings)",
    )


def track_line(track: QueuedTrack, dry_run: bool = False) -> dict[str, Any]:
    status = track.state.value
    if dry_run and track.state is State.UPLOADING:
        status = "analysed"
    line: dict[str, Any] = {"path": str(track.path), "cid": track.cid, "status": status}
    if track.detail:
        line["reason" if track.state is State.FAILED else "detail"] = track.detail
    line["title"] = track.title
    if track.info:
        line["duration_s"] = track.info.get("duration_s")
        line["integrated_lufs"] = track.info.get("loudness", {}).get("integrated_lufs")
        line["true_peak_dbtp"] = track.info.get("loudness", {}).get("true_peak_dbtp")
    for key in ("metadata_cid", "artwork_cid", "rendition_cid", "waveform_cid"):
        if track.outputs.get(key):
            line[key] = track.outputs[key]
    if track.tx_hash:
        line["tx_hash"] = track.tx_hash
    return line


def refused_line(refused: Refused) -> dict[str, Any]:
    return {"path": str(refused.path), "cid": None, "status": "refused", "reason": refused.reason}


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line, ensure_ascii=False), flush=True)


async def run_publish(args: argparse.Namespace, studio: Studio) -> int:
    rendition = rendition_for(studio, args.rendition)
    if args.dry_run:
        return await _dry_run(args, rendition)
    started = False
    api_url = args.ipfs_api or studio.profile.ipfs_api_url
    # Taken out of the environment before the local backend (a child process) is started.
    env_password = os.environ.pop(PASSWORD_ENV, None)
    try:
        if api_url == EMBEDDED or studio.profile.embedded_backend:
            await studio.start()
            started = True
        await studio.start_wallet()
        await unlock_wallet(studio, args, env_password)
        if api_url == EMBEDDED:
            api_url = studio.backend_url or ""
        queue = UploadQueue(queue_path(studio))
        chain = studio.wallet.chain if studio.wallet is not None else None
        if chain is not None:  # a local chain deleted since: its tracks are registered again
            queue.adopt_chain(chain.genesis, chain.instance)
        ipfs = KuboClient(api_url) if api_url else None
        try:
            added, refused = queue.add(args.paths)
            for item in refused:
                emit(refused_line(item))
            publisher = publisher_for(studio, queue, ipfs, rendition)
            wanted = {t.id for t in added}
            printed: set[int] = set()

            def done(track: QueuedTrack) -> None:
                printed.add(track.id)
                emit(track_line(track))

            await publisher.run(only=wanted, on_done=done)
            for track_id in sorted(wanted - printed):  # e.g. listed by an earlier run
                emit(track_line(queue.get(track_id)))
            failed = any(queue.get(i).state is State.FAILED for i in wanted)
            return 1 if failed or refused else 0
        finally:
            if ipfs is not None:
                await ipfs.aclose()
            queue.close()
    finally:
        if started:
            await studio.stop()
        else:  # the wallet and backend client start_wallet() composed
            await studio.stop_services()


async def unlock_wallet(
    studio: Studio, args: argparse.Namespace, env_password: str | None
) -> str | None:
    """Select and unlock the account to publish with; None when the keyring holds no wallet
    (tracks are then uploaded and wait for one, as in the window)."""
    from chain.errors import ChainError, WrongPasswordError

    wallet = studio.wallet
    if wallet is None:
        if args.account:
            raise PublishWalletError(
                f"This profile has no reachable chain ({studio.status.chain_state}), so the "
                f"wallet {args.account} cannot publish."
            )
        return None
    try:
        accounts = await wallet.accounts()
    except ChainError as exc:
        if args.account:
            raise PublishWalletError(str(exc)) from None
        print(f"harmonie-studio publish: no wallet available: {exc}", file=sys.stderr)
        return None
    if not accounts and not args.account:
        print(
            "harmonie-studio publish: no wallet in the system keyring; tracks are uploaded "
            "and wait for one (create or import it in the studio's Wallet panel).",
            file=sys.stderr,
        )
        return None
    account = choose_account(accounts, args.account, studio.settings.get("wallet_address"))
    if wallet.address != account:
        wallet.select(account)
    studio.confirm_transaction = command_line_consent(args.yes, account, wallet.format)
    environ = {PASSWORD_ENV: env_password} if env_password else {}
    password = read_password(args.password_file, environ=environ, what=f"wallet {account}")
    wallet.unlock_ttl_s = HEADLESS_UNLOCK_S
    try:
        await wallet.unlock(password)
    except WrongPasswordError:
        raise PublishWalletError(
            f"Wrong password for the wallet {account}: nothing was uploaded or sent."
        ) from None
    except ChainError as exc:  # keyring refused, keystore damaged: complete sentences
        raise PublishWalletError(f"Cannot unlock the wallet {account}: {exc}") from None
    finally:
        del password
    return account


async def _dry_run(args: argparse.Namespace, rendition: str | None) -> int:
    with tempfile.TemporaryDirectory(prefix="harmonie-dry-run-") as scratch:
        queue = UploadQueue(Path(scratch) / QUEUE_FILE)
        try:
            added, refused = queue.add(args.paths)
            for item in refused:
                emit(refused_line(item))
            publisher = Publisher(queue, None, Path(scratch), rendition=rendition, dry_run=True)
            results = await publisher.run(
                only={t.id for t in added}, on_done=lambda t: emit(track_line(t, dry_run=True))
            )
            failed = any(t.state is State.FAILED for t in results)
        finally:
            queue.close()
    return 1 if failed or refused else 0
