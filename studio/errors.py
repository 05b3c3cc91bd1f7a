"""Errors the studio shows to a person: each carries a message fit for a dialog or stderr."""


class StudioError(Exception):
    """Base class: str(error) is a complete, human sentence."""


class ProfileError(StudioError):
    pass


class SettingsError(StudioError):
    pass


class BackendStartError(StudioError):
    pass
