"""backend.public_resolver: which URLs and addresses a user-given endpoint may reach."""

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from backend.public_resolver import NotPublic, PublicResolver, endpoint_problem, is_public


class Answers(AbstractResolver):
    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0,
                          flags=0)
            for a in self.addresses
        ]  # fmt: skip

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.7", False),
        ("172.16.3.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped private
        ("224.0.0.1", False),
        ("not an address", False),
    ],
)
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_the_resolver_keeps_public_addresses_and_refuses_a_name_with_none() -> None:
    mixed = PublicResolver(resolver=Answers(["10.0.0.7", "93.184.216.34", "127.0.0.1"]))
    assert [r["host"] for r in await mixed.resolve("push.example.org", 443)] == ["93.184.216.34"]
    inside = PublicResolver(resolver=Answers(["169.254.169.254", "::ffff:192.168.0.1"]))
    with pytest.raises(NotPublic, match=r"push\.example\.org resolves to no public address"):
        await inside.resolve("push.example.org", 443)
    testing = PublicResolver(allow_loopback=True, resolver=Answers(["127.0.0.1", "10.0.0.7"]))
    assert [r["host"] for r in await testing.resolve("localhost", 80)] == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("url", "loopback_ok", "problem"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", False, None),
        ("https://updates.push.services.mozilla.com:443/wpush/v2/x", False, None),
        ("http://updates.push.services.mozilla.com/wpush/v2/x", False, "https://"),
        ("https://127.0.0.1/x", False, "private address"),
        ("https://[fd00::5]/x", False, "private address"),
        ("https://localhost/x", False, "this machine"),
        ("https://printer.local/x", False, "private network"),
        ("https://push.example.org:22/x", False, "port 443"),
        ("ftp://push.example.org/x", False, "http(s)"),
        ("http://127.0.0.1:8123/push/x", True, None),  # the local and test backends
        ("http://localhost:8123/push/x", True, None),
        ("http://10.0.0.7:8123/push/x", True, "https://"),
    ],
)
def test_endpoint_problems(url: str, loopback_ok: bool, problem: str | None) -> None:
    found = endpoint_problem(url, loopback_ok)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
