"""User-facing errors.

Anything a user can fix (a bad parameter, a missing file, a checksum mismatch) raises a
:class:`StarsslError`. The CLI prints its message as one line and exits with ``exit_code``;
every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class StarsslError(Exception):
    """An error the user can act on; its message is one line saying what and what to do."""

    exit_code = 2


class ConfigError(StarsslError):
    """A parameter is missing, unknown, of the wrong type or out of range."""


class DataError(StarsslError):
    """A dataset is missing, corrupt or does not match its expected split sizes."""

    exit_code = 3


class CheckpointError(StarsslError):
    """A checkpoint is missing, corrupt, or was made with other parameters."""

    exit_code = 4
