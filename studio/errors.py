"""Errors shared by the command-line modules."""


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""
