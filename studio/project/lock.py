"""One writer per project: an OS file lock on `project.lock` holding the owner's pid.

The OS drops the lock when the process ends, however it ends, so a killed app never leaves a
stale lock behind; the pid in the file only serves the error message. Readers take no lock:
they read a copy of the database (SQLite lets readers work beside a WAL writer).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
from pathlib import Path

from studio.project.errors import ProjectError, ProjectLockedError

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

LOCK_NAME = "project.lock"
_WIN_LOCK_OFFSET = 1 << 20  # Windows locks are mandatory: lock a byte past the readable owner info
_UNSUPPORTED_ERRNOS = (errno.ENOLCK, errno.ENOTSUP, errno.EOPNOTSUPP)
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation in the owner note


class ProjectLock:
    """A held lock, or none for a reader; `release()` (or process death) frees it."""

    def __init__(self, fd: int | None, path: Path, warning: str | None = None) -> None:
        self._fd = fd
        self.path = path
        self.warning = warning  # set when the project had to be opened without a lock

    @classmethod
    def acquire(cls, folder: Path) -> ProjectLock:
        """Lock `folder` for writing; ProjectLockedError names the process that holds it."""
        path = folder / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | _O_BINARY, 0o644)
        except OSError as exc:
            raise ProjectError(f"cannot create the lock file {path}: {exc.strerror or exc}") from exc
        try:
            _lock(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno in _UNSUPPORTED_ERRNOS:  # some network drives cannot lock at all
                return cls(
                    None,
                    path,
                    warning=f"The project could not be locked ({exc.strerror or exc}); "
                    "make sure no other Synesthesia Studio window has it open.",
                )
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
                raise ProjectError(f"cannot lock {path}: {exc.strerror or exc}") from exc
            raise _locked_error(folder, path) from None
        lock = cls(fd, path)
        lock._write_owner()
        return lock

    @classmethod
    def unlocked(cls, folder: Path) -> ProjectLock:
        """No lock, for readers: they read a copy, so a writer may work beside them."""
        return cls(None, folder / LOCK_NAME)

    def _write_owner(self) -> None:
        assert self._fd is not None
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        try:
            os.lseek(self._fd, 0, os.SEEK_SET)
            os.ftruncate(self._fd, 0)
            os.write(self._fd, info + b"\n")
        except OSError:  # the lock itself holds; the owner note is only for messages
            pass

    def release(self) -> None:
        """Free the lock (idempotent). The file stays: deleting it would race a new owner."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _lock(fd: int) -> None:
    if sys.platform == "win32":
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)


def read_owner(path: Path) -> tuple[int | None, str | None]:
    """The pid and host written by the lock's holder, when readable."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        pid, host = info.get("pid"), info.get("host")
        return (pid if isinstance(pid, int) else None, host if isinstance(host, str) else None)
    except (OSError, ValueError, AttributeError):
        return None, None


def _locked_error(folder: Path, path: Path) -> ProjectLockedError:
    pid, host = read_owner(path)
    if pid is None:
        who = "another process"
    elif host and host != socket.gethostname():
        who = f"process {pid} on computer {host}"
    else:
        who = f"process {pid}"
    return ProjectLockedError(
        f"the project {folder} is already open in another Synesthesia Studio window ({who}); "
        "close it there first, or open a different project",
        pid=pid,
        host=host,
    )
