"""Marketplace bench: are royalties and splits paid to the wei over many random sales?

On the embedded devnet (py-evm, the chain the local profile serves) with the contracts
deployed as the backend deploys them: the artist sets a random split (in the tipping
contract), mints editions with a random royalty, and 200 random sales follow among eight
holders, each at a random price, resales included, with random withdrawals. After every sale
each watched pull balance moved by exactly what the model (harness.market.expected_payouts)
says. Prints one JSON object as its last line:
  royalty_exact   1 when every payout of every sale matched to the wei (and the contract
                  holds exactly what it owes, and balances + withdrawals == prices paid), else 0
  sales           sales made; mismatches: payouts that differed
  sale_ms         median list + buy time on the devnet (two transactions, in process)
  buy_to_alert_p99_ms  on a real backend (uvicorn, SQLite, its embedded devnet, as the local
                  profile runs it) with the artist signed in on the notifications WebSocket:
                  from a fan's buy transaction being sent (signed, over /rpc) to the artist's
                  "track_sold" notification arriving on the socket (target <= 500)
  gated_key_p99_ms  a signed-in supporter's POST /market/gated/{cid}/key, answered 200 after
                  the backend read active_until on chain (target <= 100)
"""

import argparse
import asyncio
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, report  # noqa: E402
from chain import contracts  # noqa: E402
from chain.devnet import Devnet  # noqa: E402
from harness.market import expected_payouts, list_for_sale, mint_editions, send  # noqa: E402

PERIOD = 30 * 86400

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
TOTAL_BPS = 10_000


def random_split(rng: random.Random, candidates: list[str]) -> tuple[list[str], list[int]]:
    count = rng.randint(0, min(6, len(candidates)))
    payees = rng.sample(candidates, count)
    cuts = sorted(rng.sample(range(1, TOTAL_BPS), count - 1)) if count else []
    shares = [hi - lo for lo, hi in itertools.pairwise([0, *cuts, TOTAL_BPS])] if count else []
    return payees, shares


def royalties(sales: int, seed: int) -> dict[str, float | int]:
    rng = random.Random(seed)
    devnet = Devnet(account_count=16)
    addresses = devnet.deploy_contracts()
    w3, accounts = devnet.w3, devnet.accounts
    deployed = {name: contracts.deployed(name, w3, addresses[name]) for name in addresses}
    market, nft = deployed[contracts.MARKETPLACE], deployed[contracts.TRACK_NFT]
    tipping, registry = deployed[contracts.TIPPING], deployed[contracts.CONTENT_REGISTRY]
    artist, holders, collaborators = accounts[1], accounts[2:10], accounts[10:15]

    payees, shares = random_split(rng, [c.address for c in collaborators] + [artist.address])
    send(w3, artist, tipping.functions.set_split(payees, shares))
    royalty_bps = rng.randint(0, 5000)
    tokens = mint_editions(w3, registry, nft, artist, CID, 10, royalty_bps)
    owner = dict.fromkeys(tokens, artist)
    watched = sorted({a.address for a in accounts[1:15]})

    def owed() -> Counter[str]:
        return Counter({a: market.functions.balances(a).call() for a in watched})

    mismatches = made = paid = withdrawn = 0
    sale_ms: list[float] = []
    while made < sales:
        token = rng.choice(tokens)
        seller = owner[token]
        buyer = rng.choice([h for h in holders if h.address != seller.address])
        price = rng.choice([rng.randint(1, 10**6), rng.randint(1, 10**21)])
        before = owed()
        started = time.perf_counter()
        list_for_sale(w3, market, nft, seller, [token], price)
        send(w3, buyer, market.functions.buy(token), value=price)
        sale_ms.append((time.perf_counter() - started) * 1000)
        after = owed()
        moved = Counter({a: after[a] - before[a] for a in watched})
        expected = expected_payouts(price, royalty_bps, artist.address, payees, shares,
                                    seller.address)  # fmt: skip
        mismatches += sum(1 for a in watched if moved[a] != expected[a])
        owner[token], made, paid = buyer, made + 1, paid + price
        if rng.random() < 0.1:  # someone withdraws what they are owed
            payee = rng.choice([a for a in accounts[1:15] if after[a.address]])
            withdrawn += after[payee.address]
            send(w3, payee, market.functions.withdraw())
        if rng.random() < 0.05:  # the artist changes the split: later royalties follow it
            payees, shares = random_split(rng, [c.address for c in collaborators])
            send(w3, artist, tipping.functions.set_split(payees, shares))

    held = w3.eth.get_balance(market.address)
    conserved = held == market.functions.owed_total().call() == sum(owed().values())
    conserved = conserved and sum(owed().values()) + withdrawn == paid
    return {
        "sales": made,
        "mismatches": mismatches,
        "sale_ms": round(statistics.median(sale_ms), 1),
        "sale_ms_p95": round(percentile(sale_ms, 95), 1),
        "royalty_exact": int(mismatches == 0 and conserved),
    }


async def product_path(alerts: int, keys: int) -> dict[str, float | int]:
    """buy -> the artist's notification, and gated key release, on a real local backend."""
    import httpx
    from web3 import Web3

    from backend.config import BackendConfig
    from chain.devnet import dev_accounts
    from harness.anvil import wait_for_rpc
    from harness.backend_session import next_frame, notification_socket, serve, sign_in

    os.environ["HARMONIE_DEVNET"] = "1"
    for name in ("HARMONIE_TIP_RPC_URL", "HARMONIE_TIPPING_ADDRESS", "HARMONIE_GATED_MASTER_KEY"):
        os.environ.pop(name, None)
    accounts = dev_accounts(6)  # funded on the devnet
    artist, fans = accounts[1], accounts[2:6]
    with tempfile.TemporaryDirectory(prefix="harmonie-market-bench-") as tmp:
        config = BackendConfig(
            database_url=f"sqlite+aiosqlite:///{tmp}/backend.db",
            data_dir=Path(tmp),
            jwt_secret="market-bench-secret-0123456789abcdef0123456789",
        )
        async with httpx.AsyncClient(timeout=30) as client, serve(config) as backend:
            info = (await client.get(f"{backend.url}/chain")).json()
            await asyncio.to_thread(wait_for_rpc, f"{backend.url}/rpc")
            rpc = Web3.HTTPProvider(f"{backend.url}/rpc", request_kwargs={"timeout": 120})
            w3 = Web3(rpc)
            found = {n: contracts.deployed(n, w3, a) for n, a in info["contracts"].items()}
            market, nft = found[contracts.MARKETPLACE], found[contracts.TRACK_NFT]
            subs, registry = found[contracts.SUBSCRIPTIONS], found[contracts.CONTENT_REGISTRY]

            def prepare() -> list[int]:
                tokens = mint_editions(w3, registry, nft, artist, CID, alerts, 1000)
                for first in range(0, len(tokens), 10):
                    list_for_sale(w3, market, nft, artist, tokens[first : first + 10], 10**15)
                send(w3, artist, subs.functions.set_tiers(["Fan"], [10**15]))
                send(w3, fans[0], subs.functions.subscribe(artist.address, 0, 2), value=2 * 10**15)
                return tokens

            ws = await notification_socket(backend, await sign_in(client, backend, artist))
            await next_frame(ws, "backlog")
            tokens = await asyncio.to_thread(prepare)
            await next_frame(ws, "notification", timeout=60)  # the subscription
            alert_ms: list[float] = []
            for i, token in enumerate(tokens):
                buyer = fans[i % len(fans)]
                started = time.perf_counter()
                buying = asyncio.create_task(
                    asyncio.to_thread(send, w3, buyer, market.functions.buy(token), 10**15)
                )
                note = (await next_frame(ws, "notification", timeout=30))["notification"]
                alert_ms.append((time.perf_counter() - started) * 1000)
                await buying
                assert note["kind"] == "track_sold" and note["data"]["token_id"] == str(token)
            await ws.close()

            artist_auth = {"Authorization": f"Bearer {await sign_in(client, backend, artist)}"}
            added = await client.post(
                f"{backend.url}/market/gated",
                params={"title": "bench"},
                content=os.urandom(4 * 2**20),
                headers=artist_auth,
            )
            added.raise_for_status()
            url = f"{backend.url}/market/gated/{added.json()['cid']}/key"
            fan_auth = {"Authorization": f"Bearer {await sign_in(client, backend, fans[0])}"}
            key_ms: list[float] = []
            for _ in range(keys):
                started = time.perf_counter()
                response = await client.post(url, headers=fan_auth)
                key_ms.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
    return {
        "buy_to_alert_p50_ms": round(percentile(alert_ms, 50), 1),
        "buy_to_alert_p99_ms": round(percentile(alert_ms, 99), 1),
        "alerts": len(alert_ms),
        "gated_key_p50_ms": round(percentile(key_ms, 50), 1),
        "gated_key_p99_ms": round(percentile(key_ms, 99), 1),
        "keys": len(key_ms),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sales", type=int, default=200)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--alerts", type=int, default=60, help="buys timed to the alert")
    parser.add_argument("--keys", type=int, default=200, help="gated key releases timed")
    args = parser.parse_args()
    result = royalties(args.sales, args.seed)
    result.update(asyncio.run(product_path(args.alerts, args.keys)))
    report({"bench": "market", **result})
