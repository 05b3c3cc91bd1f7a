"""Say in words what a transaction does, for the confirmation dialog and the history."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from chain import contracts
from chain.networks import Network

CONTRACT_LABELS = {
    contracts.TIPPING: "Tipping contract",
    contracts.CONTENT_REGISTRY: "Content registry",
    contracts.TRACK_NFT: "Track editions (NFT)",
    contracts.MARKETPLACE: "Marketplace",
    contracts.SUBSCRIPTIONS: "Supporter subscriptions",
}


def short_address(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def format_native(wei: int, symbol: str, places: int = 6) -> str:
    """1500000000000000000 -> '1.5 CORE' (trailing zeros trimmed, never in exponent form)."""
    amount = Decimal(wei) / Decimal(10**18)
    text = f"{amount:.{places}f}".rstrip("0").rstrip(".")
    if text == "0" and wei > 0:
        text = f"< {Decimal(1).scaleb(-places):f}"
    return f"{text} {symbol}"


@dataclass(frozen=True)
class CallDescription:
    contract: str
    function: str
    summary: str
    args: dict[str, Any] = field(default_factory=dict)


def _market_sentence(
    name: str, fn: str, args: dict[str, Any], value_text: str, symbol: str
) -> str | None:
    if fn == "withdraw" and name in (contracts.MARKETPLACE, contracts.SUBSCRIPTIONS):
        return f"Withdraw your {CONTRACT_LABELS[name].lower()} balance to this wallet"
    if name == contracts.MARKETPLACE:
        if fn == "list_token":
            price = format_native(args["price"], symbol)
            return f"List edition #{args['token_id']} for sale at {price}"
        if fn == "list_tokens":
            each = format_native(args["price"], symbol)
            return f"List {len(args['token_ids'])} editions for sale at {each} each"
        if fn == "buy":
            return f"Buy edition #{args['token_id']} for {value_text}"
        if fn == "cancel":
            return f"Take edition #{args['token_id']} off sale"
        if fn == "change_price":
            new_price = format_native(args["new_price"], symbol)
            return f"Change the price of edition #{args['token_id']} to {new_price}"
    if name == contracts.SUBSCRIPTIONS:
        artist = short_address(args["artist"]) if "artist" in args else ""
        if fn == "subscribe":
            periods = args["periods"]
            span = "30 days" if periods == 1 else f"{periods} periods of 30 days"
            return f"Support {artist} for {span} (tier {args['tier'] + 1}), paying {value_text}"
        if fn == "cancel":
            return f"End your support of {artist} at the end of the current period (no refund)"
        if fn == "set_tiers":
            return f"Set your supporter tiers ({len(args['names'])})"
    return None


def _sentence(name: str, fn: str, args: dict[str, Any], value_text: str) -> str:
    if name == contracts.TIPPING and fn == "tip":
        message = args.get("message") or ""
        extra = f" with the message “{message}”" if message else ""
        return f"Tip {value_text} to {short_address(args['artist'])}{extra}"
    if name == contracts.TIPPING and fn == "set_split":
        return f"Split your future tips among {len(args['payees'])} payees"
    if name == contracts.TIPPING and fn == "withdraw":
        return "Withdraw your tip balance to this wallet"
    if name == contracts.CONTENT_REGISTRY and fn == "register":
        return f"Register track {args['cid']} under your address"
    if name == contracts.CONTENT_REGISTRY and fn == "register_many":
        count = len(args["cids"])
        return f"Register {count} track{'' if count == 1 else 's'} under your address"
    if name == contracts.CONTENT_REGISTRY and fn == "update_metadata":
        return f"Update the metadata of track {args['cid']}"
    if name == contracts.TRACK_NFT and fn == "mint_edition":
        return f"Mint an edition of track {args['cid']} for {short_address(args['to'])}"
    return f"Call {fn} on the {CONTRACT_LABELS.get(name, name)}"


def describe_call(network: Network, to: str, data: str | bytes, value: int) -> CallDescription:
    to = to_checksum_address(to)
    value_text = format_native(value, network.symbol)
    raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
    known = {to_checksum_address(a): n for n, a in network.contracts.items() if a}
    if not raw:
        return CallDescription(
            f"Address {short_address(to)}", "transfer", f"Send {value_text} to {short_address(to)}"
        )
    name = known.get(to)
    if name is None:
        return CallDescription(
            f"Unknown contract {short_address(to)}",
            "0x" + raw[:4].hex(),
            f"Call an unknown contract at {short_address(to)} (check you trust it)",
        )
    contract = Web3().eth.contract(address=to, abi=contracts.abi(name))
    try:
        fn, args = contract.decode_function_input(raw)
    except ValueError:
        unknown = "Call an unknown function (the data does not match the contract)"
        return CallDescription(CONTRACT_LABELS.get(name, name), "0x" + raw[:4].hex(), unknown)
    fn_name = fn.fn_name
    if name == contracts.TRACK_NFT and fn_name == "setApprovalForAll":
        operator = to_checksum_address(args["operator"])
        if known.get(operator) == contracts.MARKETPLACE:
            allowed = "Let the marketplace hand your editions to the fans who buy them"
            refused = "Stop the marketplace from handing over your editions"
        else:
            allowed = f"Let {short_address(operator)} move all your editions (check you trust it)"
            refused = f"Stop {short_address(operator)} from moving your editions"
        summary = allowed if args["approved"] else refused
        return CallDescription(CONTRACT_LABELS[name], fn_name, summary, dict(args))
    return CallDescription(
        CONTRACT_LABELS.get(name, name),
        fn_name,
        _market_sentence(name, fn_name, dict(args), value_text, network.symbol)
        or _sentence(name, fn_name, dict(args), value_text),
        dict(args),
    )
