"""Errors the project store raises: every message is a sentence a user can act on."""

from __future__ import annotations


class ProjectError(Exception):
    """A project could not be opened, read or changed; the message says why."""


class ProjectLockedError(ProjectError):
    """Another running app instance holds the project; it names that process."""

    def __init__(self, message: str, pid: int | None = None, host: str | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.host = host


class NodeNotFoundError(ProjectError, KeyError):
    """No node with that id: a KeyError too, so dict-style callers can catch it."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
