"""Errors from capture, encoding and recording: str(error) is a sentence a person can act on."""


class MediaError(Exception):
    """Base class for media failures shown to the artist."""


class NoDeviceError(MediaError):
    """The asked-for device (camera, microphone, display) is not there."""


class DeviceLostError(MediaError):
    """A device stopped delivering while we were using it (unplugged, display closed)."""


class UnsupportedError(MediaError):
    """A codec, container or option this machine or format cannot do."""
