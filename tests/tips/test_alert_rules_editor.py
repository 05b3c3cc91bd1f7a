"""The rules editor (the Settings window's Alerts page), offscreen: what it saves is what the
settings file then holds; a bad value is explained and nothing is written."""

from pathlib import Path

from studio.settings import Settings
from studio.tips.alert_rules import AlertRules, save_rules
from widgets.tips.alert_rules_editor import AlertRulesEditor

COIN = 10**18


def editor_for(qtbot, path: Path) -> tuple[AlertRulesEditor, Settings, list[AlertRules]]:
    settings = Settings.open(path)
    editor = AlertRulesEditor(
        AlertRules.from_settings(settings), save=lambda rules: save_rules(settings, rules)
    )
    qtbot.addWidget(editor)
    saved: list[AlertRules] = []
    editor.saved.connect(saved.append)
    return editor, settings, saved


def test_edits_are_saved_to_the_settings_file(qtbot, tmp_path: Path) -> None:
    editor, settings, saved = editor_for(qtbot, tmp_path / "settings.toml")
    editor.min_amount.setText("0.5")
    editor.delay.setValue(12)
    editor.blocked.setPlainText("spam\n  \nRude\n")
    editor.add_tier.click()
    editor.tiers.item(0, 0).setText("0")
    editor.tiers.item(0, 1).setText("10")
    editor.tiers.item(0, 6).setText("{fan} sent {amount}!")
    editor.add_tier.click()
    editor.tiers.item(1, 0).setText("10")
    editor.tiers.item(1, 5).setText("9")
    editor.largest_enabled.setChecked(True)
    editor.tts_enabled.setChecked(True)
    editor.tts_min.setText("2")
    editor.save_button.click()
    assert editor.error.text() == "Saved."
    reread = AlertRules.from_settings(Settings.open(settings.path))
    assert saved == [reread]
    assert reread.min_wei == COIN // 2 and reread.moderation_delay_s == 12
    assert reread.blocked_words == ("spam", "rude")
    assert [(t.min_wei, t.max_wei) for t in reread.tiers] == [(0, 10 * COIN), (10 * COIN, None)]
    assert reread.tiers[0].look.template == "{fan} sent {amount}!"
    assert reread.tiers[1].look.duration_s == 9
    assert reread.largest_enabled and reread.tts.enabled and reread.tts.min_wei == 2 * COIN

    editor.set_rules(AlertRules())
    editor.set_rules(reread)
    assert editor.rules() == reread, "the fields show the rules as they are"


def test_a_bad_value_is_explained_and_nothing_is_written(qtbot, tmp_path: Path) -> None:
    editor, settings, saved = editor_for(qtbot, tmp_path / "settings.toml")
    editor.min_amount.setText("1")
    assert editor.apply()
    before = settings.path.read_bytes()
    cases = [
        (lambda: editor.min_amount.setText("-3"), "minimum amount to alert must be zero or more"),
        (lambda: editor.tts_voice.setText("en; x"), "is not a voice name"),
        (lambda: editor.largest.template.setText("{secret}"), "largest tip: text uses {secret}"),
    ]
    for change, reason in cases:
        editor.set_rules(saved[-1])
        change()
        editor.save_button.click()
        assert editor.error.text().startswith("Not saved: ") and reason in editor.error.text()
    editor.set_rules(saved[-1])
    editor.add_tier.click()
    editor.tiers.item(0, 3).setText("loud")
    assert not editor.apply()
    assert "tier 1: Volume must be a number" in editor.error.text()
    editor.tiers.item(0, 3).setText("0.5")
    editor.add_tier.click()
    assert not editor.apply()
    assert "tiers 1 and 2 overlap" in editor.error.text()
    assert settings.path.read_bytes() == before
    assert len(saved) == 1
