"""Why publishing over WHIP failed, in words an artist can act on.

Messages never contain the stream key; `retryable` says whether waiting and trying again can
help (an unreachable ingest) or not (a refused key, no codec in common).
"""


class WhipError(Exception):
    retryable = False


class WhipAuthError(WhipError):
    """The ingest refused the stream key (401) or its use for this stream (403)."""


class WhipNoCommonCodec(WhipError):
    """The ingest accepts none of the codecs we encode."""


class WhipUnreachable(WhipError):
    """No answer from the ingest, or media could not connect: worth retrying."""

    retryable = True


class WhipRejected(WhipError):
    """Any other refusal by the ingest (bad URL, malformed answer...)."""


class WhipServerError(WhipError):
    """The ingest failed (5xx): worth retrying."""

    retryable = True
