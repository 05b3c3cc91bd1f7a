"""Alert rules: read from and written to the settings TOML; a bad value is refused, with why."""

import tomllib
from pathlib import Path

import pytest

from studio.settings import Settings
from studio.tips.alert_rules import (
    AlertLook,
    AlertRules,
    RulesError,
    Tier,
    mask_blocked,
    save_rules,
)

COIN = 10**18


def write(path: Path, text: str) -> Settings:
    path.write_text(text, encoding="utf-8")
    return Settings.open(path)


def test_rules_round_trip_through_the_settings_file(tmp_path: Path) -> None:
    sound = tmp_path / "ding.wav"
    sound.write_bytes(b"RIFF")
    settings = write(
        tmp_path / "settings.toml",
        f"""
[alerts]
min_amount = "0.01"
message_min_amount = 0.5
moderation_delay_s = 10
blocked_words = ["Spam", " spam ", "rude words"]

[[alerts.tiers]]
min_amount = "1"
template = "{{fan}} is a star: {{amount}}"
sound = "{sound}"
volume = 0.8
duration_s = 8

[[alerts.tiers]]
min_amount = "0"
max_amount = "1"

[alerts.largest]
enabled = true
template = "New record! {{fan}} {{amount}}"

[alerts.tts]
enabled = true
min_amount = "2"
max_chars = 80
voice = "en-us"
""",
    )
    rules = AlertRules.from_settings(settings)
    assert rules.min_wei == COIN // 100
    assert rules.message_min_wei == COIN // 2
    assert rules.moderation_delay_s == 10
    assert rules.blocked_words == ("spam", "rude words")
    assert rules.tiers[0] == Tier(
        COIN, None, AlertLook(str(sound), 0.8, "", 8.0, "{fan} is a star: {amount}")
    )
    assert rules.tts.enabled and rules.tts.min_wei == 2 * COIN and rules.tts.voice == "en-us"
    assert rules.look_for(COIN // 2, False) == ("tier 2", rules.tiers[1].look)
    assert rules.look_for(5 * COIN, False)[0] == "tier 1"
    assert rules.look_for(5 * COIN, True) == ("largest", rules.largest)

    save_rules(settings, rules)
    assert AlertRules.from_settings(Settings.open(settings.path)) == rules
    with settings.path.open("rb") as f:
        assert tomllib.load(f)["alerts"]["tiers"][1]["max_amount"] == "1"


def test_defaults_alert_on_every_tip_and_never_speak() -> None:
    rules = AlertRules.parse(None)
    assert rules.min_wei == 0 and rules.moderation_delay_s == 0
    assert not rules.tts.enabled
    assert rules.look_for(1, True) == ("default", rules.default_look)  # largest tier is off


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ({"min_amount": "-1"}, "minimum amount to alert must be zero or more"),
        ({"min_amount": "lots"}, "minimum amount to alert must be an amount"),
        ({"min_amount": "0.0000000000000000001"}, "more than 18 decimals"),
        ({"moderation_delay_s": 31}, "moderation delay must be from 0 to 30"),
        ({"moderation_delay_s": True}, "moderation delay must be a number"),
        ({"blocked_words": "spam"}, "blocked words must be a list"),
        ({"tiers": [{"volume": 1.5}]}, "tier 1: volume must be from 0 to 1"),
        ({"tiers": [{"duration_s": 0}]}, "tier 1: duration must be from 0.5 to 60"),
        ({"tiers": [{"template": "{wallet_key}"}]}, "tier 1: text uses {wallet_key}"),
        ({"tiers": [{"template": "{fan.__class__}"}]}, "tier 1: text uses {fan.__class__}"),
        ({"tiers": [{"template": "{fan"}]}, "tier 1: text is not a valid template"),
        ({"tiers": [{"sound": "/no/such/file.wav"}]}, "tier 1: sound: no file at"),
        ({"tiers": [{"min_amount": "2", "max_amount": "1"}]}, "'up to' must be more"),
        (
            {"tiers": [{"min_amount": "0", "max_amount": "2"}, {"min_amount": "1"}]},
            "tiers 1 and 2 overlap",
        ),
        ({"tiers": [{"min_amount": "0"}, {"min_amount": "5"}]}, "tiers 1 and 2 overlap"),
        ({"tts": {"max_chars": 0}}, "maximum length must be from 1"),
        ({"tts": {"voice": "en; rm -rf"}}, "is not a voice name"),
        ({"tts": {"enabled": "yes"}}, "enabled must be true or false"),
        ({"largest": {"template": ""}}, "largest tip: text is empty"),
    ],
)
def test_a_bad_value_is_refused_with_its_reason(table: dict, reason: str) -> None:
    with pytest.raises(RulesError, match=reason.replace("(", r"\(").replace("{", r"\{")):
        AlertRules.parse(table)


def test_bad_rules_are_never_written(tmp_path: Path) -> None:
    settings = write(tmp_path / "settings.toml", '[alerts]\nmin_amount = "1"\n')
    before = settings.path.read_bytes()
    bad = AlertRules().with_changes(moderation_delay_s=45)
    with pytest.raises(RulesError, match="moderation delay"):
        save_rules(settings, bad)
    assert settings.path.read_bytes() == before
    assert settings.get("alerts") == {"min_amount": "1"}


def test_rules_are_not_written_over_an_unreadable_settings_file(tmp_path: Path) -> None:
    settings = write(tmp_path / "settings.toml", "this is [not toml")
    with pytest.raises(RulesError, match="could not be read"):
        save_rules(settings, AlertRules())
    assert settings.path.read_text() == "this is [not toml"


def test_blocked_words_are_starred_as_whole_words_whatever_their_case() -> None:
    text, found = mask_blocked("SPAM in a classy spam-can, Rude Words!", ("spam", "rude words"))
    assert text == "**** in a classy ****-can, **********!"
    assert found
    assert mask_blocked("a classic message", ("ass",)) == ("a classic message", False)
