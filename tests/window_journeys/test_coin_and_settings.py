"""In the real window on `local`: the Wallet dock's "Get test coin" reaches the studio's own
backend faucet and says what arrived; File > Settings opens on the running studio's file."""

import tomllib

import pytest

from tests.window_journeys.conftest import Desk, wait_until

pytestmark = pytest.mark.slow


def test_get_test_coin_and_settings_in_the_window(on_desk, artifacts_dir) -> None:  # type: ignore[no-untyped-def]
    async def scenario(desk: Desk) -> None:
        panel = desk.journeys.wallet_panel
        wallet = desk.studio.wallet
        await wait_until(lambda: wallet.address is not None, what="the artist's wallet")
        panel.render()
        assert panel.coin_button.isVisible() and panel.coin_button.isEnabled()
        before = await wallet.balance()
        panel.coin_button.click()
        await wait_until(lambda: "arrived" in panel.message.text(), what="the faucet's coin")
        assert panel.message.text() == "10 DEV arrived from the local faucet."
        assert await wallet.balance() >= before + 10 * 10**18
        help_label = panel.balance_help
        assert help_label.isVisible() and "Withdrawable" in help_label.text()
        assert help_label.height() >= help_label.heightForWidth(help_label.width()), "not cut"
        desk.window.docks["wallet"].widget().grab().save(str(artifacts_dir / "wallet_dock.png"))

        desk.window.settings_action.trigger()
        dialog = desk.window.settings_dialog
        assert dialog is not None and dialog.isVisible()
        dialog.rows["artist_name"].set_text("Nina from the window")
        dialog.save()
        saved = tomllib.loads((desk.home / "settings.toml").read_text())
        assert saved["artist_name"] == "Nina from the window"

        # Settings > Alerts holds the alert rules and the OBS page's address.
        from PySide6.QtWidgets import QWidget

        from widgets.tips.alert_settings import AlertSettings

        found = dialog.pages["Alerts"].findChildren(QWidget)
        alerts = next((w for w in found if isinstance(w, AlertSettings)), None)
        assert alerts is not None, "the alert rules are not on the Alerts page"
        page = desk.studio.overlay_page
        assert page is not None and alerts.obs_url.text() == page.url
        alerts.editor.min_amount.setText("0.5")
        assert alerts.editor.apply(), alerts.editor.error.text()
        saved = tomllib.loads((desk.home / "settings.toml").read_text())
        assert saved["alerts"]["min_amount"] in ("0.5", 0.5), saved["alerts"]
        dialog.close()

    on_desk(scenario)
