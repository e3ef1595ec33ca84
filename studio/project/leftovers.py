"""Work folders and probe files a killed process leaves behind, named so they can be cleaned.

An import unpacks into `<name>.importing-<host>-<pid>-<token>` beside its target, an export
writes in `<name>.exporting-…`, and opening a project probes its folders with
`.write-probe-<host>-<pid>-<thread>`. A process killed with SIGKILL cannot remove them, so the
next open, import or export removes the ones whose process is gone from this computer, or that
are older than any real one can be. Work folders are not hidden: a user who finds one can see
what it is. Older versions' names (`.tmp-<name>-import-<token>`, `.write-probe-<pid>-<thread>`)
are recognised too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

HOST_TAG = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
WORK_STALE_AFTER_S = 24 * 3600.0  # no import or export runs for a day; covers other computers
PROBE_STALE_AFTER_S = 60.0  # a probe lives for microseconds
_WORK_RE = re.compile(r"^.+\.(?:importing|exporting)-(?P<host>[0-9a-f]{8})-(?P<pid>\d{1,10})-[0-9a-f]{8}$")
_OLD_WORK_RE = re.compile(r"^\.tmp-.+-import-[0-9a-f]{8}$")
_PROBE_RE = re.compile(r"^\.write-probe-(?:(?P<host>[0-9a-f]{8})-)?(?P<pid>\d{1,10})-\d{1,20}$")


def work_name(name: str, kind: str) -> str:
    """The name of a work folder for `name` ("importing" or "exporting") owned by this process."""
    return f"{name}.{kind}-{HOST_TAG}-{os.getpid()}-{secrets.token_hex(4)}"


def probe_name() -> str:
    """The name of a write-probe file owned by this thread."""
    return f".write-probe-{HOST_TAG}-{os.getpid()}-{threading.get_ident()}"


def _process_gone(pid: int) -> bool:
    """True only when no process `pid` runs on this computer (unknown counts as running)."""
    if os.name != "posix" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0 only asks; on Windows os.kill would terminate, hence posix only
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it runs under another user
        return False
    return False


def _stale(name: str, is_dir: bool, age_s: Callable[[], float]) -> bool:
    """Whether `name` is one of ours whose process is gone, or too old to be in use."""
    if is_dir:
        match = _WORK_RE.match(name)
        if match is None:
            return _OLD_WORK_RE.match(name) is not None and age_s() > WORK_STALE_AFTER_S
        ours = match["host"] == HOST_TAG
        return (ours and _process_gone(int(match["pid"]))) or age_s() > WORK_STALE_AFTER_S
    match = _PROBE_RE.match(name)
    if match is None:
        return False
    ours = match["host"] in (None, HOST_TAG)  # old names carry no host: they were made here
    return (ours and _process_gone(int(match["pid"]))) or age_s() > PROBE_STALE_AFTER_S


def remove_stale(folder: Path) -> list[str]:
    """Remove this app's stale work folders and probe files in `folder`; the names removed."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        try:
            if entry.is_symlink():
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if not _stale(entry.name, is_dir, lambda e=entry: now - e.stat(follow_symlinks=False).st_mtime):
                continue
            if is_dir:
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError as exc:
            log.warning("could not remove the leftover %s: %s", entry.path, exc)
            continue
        log.info("removed %s, left behind by a process that was stopped", entry.path)
        removed.append(entry.name)
    return removed
