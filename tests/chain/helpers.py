"""Small helpers for contract tests: send a contract call as a signed raw transaction."""

from typing import Any

from hypothesis import HealthCheck, settings
from web3.exceptions import ContractLogicError

from harness.market import send as transact  # noqa: F401  (the tests' name for it)


def revert_reason(call: Any, sender: str, value: int = 0) -> str:
    """The revert message of `call` from `sender`; fails the test if it does not revert."""
    try:
        call.call({"from": sender, "value": value})
    except ContractLogicError as exc:
        return str(exc)
    raise AssertionError("the call did not revert")


def on_chain_settings(max_examples: int) -> settings:
    """Hypothesis settings for properties run against a chain fixture (slow, function-scoped)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
