"""How a tip reads to a person: short addresses, exact coin amounts, fiat, safe message text.

A tip message is whatever a stranger put on chain (or sent through the backend): it may hold
markup, control characters, bidirectional overrides or 10 kB of text. Everything here returns
plain text; the views render it as plain text, and `tray_text` also defuses markup for
notification hosts that would interpret it.
"""

import re
from decimal import Decimal

from chain.networks import NETWORKS

WEI_DECIMALS = 18
TRAY_MESSAGE_CHARS = 140
FEED_MESSAGE_CHARS = 500

# C0/C1 controls (newlines and tabs handled separately), bidi embeddings/overrides/isolates,
# zero-width characters, lone surrogates
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff]"
)
_SPACES = re.compile(r"\s+")


def native_symbol(chain_id: int | None) -> str:
    """CORE on Core, tCORE2 on its testnet; a local devnet's coin is shown as ETH."""
    for network in NETWORKS.values():
        if network.chain_id is not None and network.chain_id == chain_id:
            return network.symbol
    return "ETH"


def short_address(address: str) -> str:
    """0x1234…abcd: enough to recognise, short enough for a tray title."""
    text = address.strip()
    if len(text) <= 13:
        return text
    return f"{text[:6]}…{text[-4:]}"


def fan_label(name: str | None, address: str, limit: int = 64) -> str:
    """The fan's profile name as one plain line, else their short address."""
    text = clean_text(name or "", keep_newlines=False)
    return truncate(text, limit) if text else short_address(address)


def format_amount(wei: int, decimals: int = WEI_DECIMALS) -> str:
    """The exact amount in whole coins, no float anywhere: 1 wei -> 0.000000000000000001."""
    if wei < 0:
        return "-" + format_amount(-wei, decimals)
    whole, fraction = divmod(int(wei), 10**decimals)
    text = f"{whole:,}"
    if fraction:
        text += "." + f"{fraction:0{decimals}d}".rstrip("0")
    return text


def format_coin(wei: int, symbol: str) -> str:
    return f"{format_amount(wei)} {symbol}"


def format_fiat(wei: int, price: Decimal, currency: str) -> str:
    """≈ 12.34 USD; amounts below a cent say so rather than showing 0.00."""
    value = Decimal(int(wei)) * price / Decimal(10**WEI_DECIMALS)
    if 0 < value < Decimal("0.01"):
        return f"under 0.01 {currency}"
    return f"≈ {value.quantize(Decimal('0.01')):,} {currency}"


def clean_text(text: str, keep_newlines: bool = True) -> str:
    """Drop control and invisible direction characters; optionally fold lines into one."""
    text = _UNSAFE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not keep_newlines:
        text = _SPACES.sub(" ", text)
    return text.strip()


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def tray_text(text: str, limit: int = TRAY_MESSAGE_CHARS) -> str:
    """One short line that no notification host can take for markup.

    Some hosts (Qt's own balloon, freedesktop servers with body-markup) guess whether a
    string is HTML. Angle brackets become look-alike quotes so no guess can succeed, and
    the text is the same to a reader.
    """
    line = truncate(clean_text(text, keep_newlines=False), limit)
    return line.replace("<", "‹").replace(">", "›")
