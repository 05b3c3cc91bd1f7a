"""Export CSV says where the file went, with a link that opens its folder (it used to close
the file dialog and say nothing)."""

import asyncio
import re
from pathlib import Path

from studio.tips.revenue import export_csv, summarize
from tests.support.url_catcher import catch_urls
from tests.tips.test_revenue_dashboard import STATE, TIPS
from widgets.dialogs import open_dialogs
from widgets.tips.revenue_dashboard import RevenueDashboard


def test_export_says_where_and_opens_the_folder(qtbot, qasync_loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dashboard = RevenueDashboard("CORE", on_export=lambda p: export_csv(TIPS, p, "CORE"))
    qtbot.addWidget(dashboard)
    dashboard.show_summary(summarize(TIPS), STATE)
    dashboard.show()
    target = tmp_path / "my exports" / "tips.csv"
    target.parent.mkdir()

    async def export() -> None:
        dashboard.export_button.click()
        while not open_dialogs():
            await asyncio.sleep(0.02)
        [dialog] = open_dialogs()
        dialog.selectFile(str(target))
        dialog.accept()
        assert dashboard.exporting is not None
        await dashboard.exporting

    qasync_loop.run_until_complete(export())
    assert target.exists()
    status = dashboard.export_status
    assert status.isVisible()
    assert "4 tips exported to" in status.text()
    assert str(target) in status.text(), "the whole path"
    [href] = re.findall(r'href="([^"]+)"', status.text())
    with catch_urls("file") as files:
        status.linkActivated.emit(href)
    assert [u.toLocalFile() for u in files.urls] == [str(target.parent)]
