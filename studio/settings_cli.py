"""`harmonie-studio settings [KEY [VALUE]]`: read and write the settings TOML from a shell,
with the same types and checks as the Settings window (studio.settings_schema)."""

import argparse
import sys
from typing import Any

from studio.settings import Settings
from studio.settings_schema import InvalidSetting, field_for_key, fields_for


def add_settings_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "settings",
        help="show every setting, or one; set one (checked as in the Settings window)",
    )
    parser.add_argument("key", nargs="?", help="a dotted key, e.g. video.fps")
    parser.add_argument("value", nargs="?", help="the new value; '' removes it (default)")


def run_settings(args: argparse.Namespace, settings: Settings) -> int:
    profile = args.profile or str(settings.get("profile") or "local")
    if args.key is None:
        for field in fields_for(profile):
            print(f"{field.key} = {field.format(field.read(settings))}")
        return 0
    try:
        field = field_for_key(args.key, profile)
        if args.value is None:
            print(field.format(field.read(settings)))
            return 0
        value = field.parse(args.value)
    except InvalidSetting as exc:
        print(f"harmonie-studio: {args.key}: {exc}", file=sys.stderr)
        return 2
    if settings.read_only:
        print(f"harmonie-studio: {settings.load_error}", file=sys.stderr)
        return 2
    field.write(settings, value)
    settings.save()
    note = " (restart the studio to apply)" if field.restart else f" ({field.applies})"
    print(f"{field.key} = {field.format(value)}{note}")
    return 0
