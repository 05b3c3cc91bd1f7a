"""Every devnet start is a chain of its own, even when it matches the last one block for block."""

from chain.devnet import METADATA_METHOD, Devnet
from chain.node_identity import METADATA_METHOD_BY_CLIENT


def metadata(devnet: Devnet) -> dict:
    reply = devnet.handle({"jsonrpc": "2.0", "id": 1, "method": METADATA_METHOD, "params": []})
    return reply["result"]


def test_each_start_reports_its_own_instance_id():
    first, second = Devnet(1), Devnet(1)
    one, two = metadata(first), metadata(second)
    assert one["chainId"] == two["chainId"] == first.chain_id
    assert len(one["instanceId"]) == 32 and one["instanceId"] != two["instanceId"]
    assert metadata(first) == one, "stable for the life of the chain"


def test_the_event_follower_asks_the_devnet_for_it():
    version = Devnet(1).handle({"jsonrpc": "2.0", "id": 1, "method": "web3_clientVersion"})
    client = version["result"].split("/")[0].lower()
    assert METADATA_METHOD_BY_CLIENT[client] == METADATA_METHOD
