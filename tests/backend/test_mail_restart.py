"""1,000 followers, a real SMTP server (aiosmtpd), the backend process stopped in the middle of
sending the go-live mail and started again on the same data dir: every inbox gets its mail,
and exactly once when the stop is a graceful one (SIGTERM: a restart, a deploy)."""

import signal
from pathlib import Path

import pytest

from harness.mail_fanout import fanout_across_restart

FOLLOWERS = 1000
CONNECTIONS = 4  # BackendConfig.mail_connections: at most one unrecorded mail per connection

pytestmark = pytest.mark.slow


async def test_a_restart_mid_send_loses_no_mail_and_sends_none_twice(tmp_path: Path) -> None:
    result = await fanout_across_restart(tmp_path, FOLLOWERS, stop_with=signal.SIGTERM)
    assert 0 < result.at_restart < FOLLOWERS, "the restart did not happen mid-send"
    assert result.lost == 0
    assert result.repeated == 0
    assert set(result.delivered.values()) == {1}


async def test_a_crash_mid_send_loses_no_mail(tmp_path: Path) -> None:
    # SIGKILL between the server's "250 accepted" and the outbox's "sent" cannot be told from
    # a mail never sent: that one message per connection may arrive twice (same Message-ID).
    result = await fanout_across_restart(tmp_path, FOLLOWERS, stop_with=signal.SIGKILL)
    assert 0 < result.at_restart < FOLLOWERS, "the crash did not happen mid-send"
    assert result.lost == 0
    assert result.repeated <= CONNECTIONS
