"""EIP-4361: the message format (from the specification's examples) and every refusal."""

from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account

from backend.siwe import SiweError, SiweMessage, verify
from tests.backend.support import sign

# The example message of EIP-4361 ("Example message to be signed").
SPEC_EXAMPLE = """example.com wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""

# The same with the optional scheme, as the final revision of the specification allows.
SPEC_EXAMPLE_WITH_SCHEME = SPEC_EXAMPLE.replace("example.com wants", "https://example.com wants", 1)

NOW = datetime(2021, 9, 30, 16, 30, tzinfo=UTC)


def test_parses_the_spec_example_field_by_field() -> None:
    message = SiweMessage.parse(SPEC_EXAMPLE)
    assert message.domain == "example.com"
    assert message.scheme is None
    assert message.address == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    assert message.statement == "I accept the ExampleOrg Terms of Service: https://example.com/tos"
    assert message.uri == "https://example.com/login"
    assert message.version == "1"
    assert message.chain_id == 1
    assert message.nonce == "32891756"
    assert message.issued_at == "2021-09-30T16:25:24Z"
    assert message.expiration_time is None and message.not_before is None
    assert message.request_id is None
    assert message.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    )


@pytest.mark.parametrize("text", [SPEC_EXAMPLE, SPEC_EXAMPLE_WITH_SCHEME])
def test_rendering_reproduces_the_spec_text_exactly(text: str) -> None:
    assert SiweMessage.parse(text).to_text() == text


def test_all_optional_fields_round_trip_and_no_statement_keeps_two_blank_lines() -> None:
    message = SiweMessage(
        domain="localhost:4361",
        address="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
        uri="http://localhost:4361/login",
        chain_id=1114,
        nonce="abcdef12345",
        issued_at="2021-09-30T16:25:24.000Z",
        expiration_time="2021-10-01T16:25:24+02:00",
        not_before="2021-09-30T16:00:00Z",
        request_id="req-1",
        resources=("https://example.com/a",),
    )
    text = message.to_text()
    assert "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n\n\nURI: " in text
    assert SiweMessage.parse(text) == message


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda t: t.replace("Version: 1", "Version: 2"), "version"),
        (lambda t: t.replace("Nonce: 32891756", "Nonce: 1234567"), "short nonce"),
        (lambda t: t.replace("Nonce: 32891756", "Nonce: 3289-1756"), "non-alphanumeric nonce"),
        (
            lambda t: t.replace(
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
                "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
            ),
            "not checksummed",
        ),
        (
            lambda t: t.replace(
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc",
            ),
            "short address",
        ),
        (lambda t: t.replace("Cc2\n\nI accept", "Cc2\nI accept"), "missing blank line"),
        (lambda t: t.replace("tos\n\nURI", "tos\nURI"), "missing blank line after statement"),
        (lambda t: t.replace("Chain ID: 1\n", ""), "missing chain id"),
        (lambda t: t.replace("Chain ID: 1", "Chain ID: one"), "chain id not a number"),
        (lambda t: t.replace("Issued At: 2021-09-30T16:25:24Z", "Issued At: yesterday"), "date"),
        (
            lambda t: t.replace(
                "Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30T16:25:24"
            ),
            "no zone",
        ),
        (lambda t: t.replace("2021-09-30T16:25:24Z", "2021-02-30T16:25:24Z"), "impossible date"),
        (lambda t: t + "\nextra", "trailing text"),
        (lambda t: t + "\n", "trailing newline"),
        (lambda t: t.replace(" wants you", " wants u"), "header"),
        (lambda t: t.replace("URI: https://example.com/login", "URI: not a uri"), "uri"),
        (lambda t: t.replace("- https://example.com", "- not a uri"), "resource"),
        (lambda t: t.replace("Terms of Service", "Terms\tof Service"), "statement char"),
        (lambda t: t.replace("example.com wants", "exa mple.com wants", 1), "domain"),
        (lambda t: t.replace("Version: 1\nChain ID: 1", "Chain ID: 1\nVersion: 1"), "field order"),
    ],
)
def test_malformed_messages_are_refused(mutate, why: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SiweError) as refused:
        SiweMessage.parse(mutate(SPEC_EXAMPLE))
    assert refused.value.code == "malformed", why


def _signed(**overrides: object) -> tuple[str, str]:
    account = Account.create()
    fields: dict[str, object] = {
        "domain": "example.com",
        "address": account.address,
        "uri": "https://example.com/login",
        "chain_id": 1,
        "nonce": "32891756abc",
        "issued_at": "2021-09-30T16:25:24Z",
    }
    fields.update(overrides)
    text = SiweMessage(**fields).to_text()  # type: ignore[arg-type]
    return text, sign(account, text)


def _verify(text: str, signature: str) -> SiweMessage:
    return verify(
        text,
        signature,
        domains=("example.com",),
        chain_ids=(1,),
        now=NOW,
        max_age=timedelta(minutes=10),
    )


def test_a_good_signature_verifies() -> None:
    text, signature = _signed(statement="Hello", expiration_time="2021-09-30T17:00:00Z")
    assert _verify(text, signature).statement == "Hello"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"domain": "evil.example"}, "domain"),
        ({"uri": "https://evil.example/login"}, "uri"),
        ({"uri": "ftp://example.com/login"}, "uri"),
        ({"scheme": "ftp"}, "domain"),
        ({"chain_id": 56}, "chain_id"),
        ({"expiration_time": "2021-09-30T16:29:59Z"}, "expired"),
        ({"issued_at": "2021-09-30T16:00:00Z"}, "expired"),
        ({"issued_at": "2021-09-30T17:00:00Z"}, "issued_at"),
        ({"not_before": "2021-09-30T17:00:00Z"}, "not_yet_valid"),
    ],
)
def test_refusals(overrides: dict[str, object], code: str) -> None:
    text, signature = _signed(**overrides)
    with pytest.raises(SiweError) as refused:
        _verify(text, signature)
    assert refused.value.code == code


def test_forged_signature_is_refused() -> None:
    text, _ = _signed()
    forged = sign(Account.create(), text)  # someone else's key
    with pytest.raises(SiweError) as refused:
        _verify(text, forged)
    assert refused.value.code == "signature"


def test_signature_over_other_text_is_refused() -> None:
    text, signature = _signed()
    tampered = text.replace("Chain ID: 1\n", "Chain ID: 1\n").replace("32891756abc", "32891756abd")
    with pytest.raises(SiweError) as refused:
        _verify(tampered, signature)
    assert refused.value.code == "signature"


@pytest.mark.parametrize("garbage", ["0x" + "00" * 65, "0x" + "ff" * 65, "0x" + "1b" * 65])
def test_unusable_signatures_are_refused_not_crashing(garbage: str) -> None:
    text, _ = _signed()
    with pytest.raises(SiweError) as refused:
        _verify(text, garbage)
    assert refused.value.code == "signature"
