"""Janus's refusals become the WHIP/WHEP status a player acts on."""

import pytest

from backend.streams.janus_server import JanusError, _stream_error


@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        (466, 400, "refused the SDP"),  # core: invalid SDP
        (437, 400, "refused the SDP"),  # videoroom: invalid SDP
        (426, 404, "no such room"),  # the room went away (Janus restarted)
        (455, 404, "no such room"),  # streaming: no such mountpoint
        (432, 503, "is full"),  # the room has its most publishers
        (403, 502, "refused (403"),  # e.g. a wrong API secret
    ],
)
def test_janus_errors_map_to_statuses(code: int, status: int, says: str) -> None:
    error = _stream_error(JanusError(code, "no such room"), "Stream show cannot go live")
    assert error.status == status
    assert says in str(error)
