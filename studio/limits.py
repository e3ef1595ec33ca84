"""Memory limits taken from the machine, so huge or hostile inputs are refused before they are decoded.

A limit is a share of the memory the process can still get now: the RAM the system reports as
available, capped by the address space a `ulimit -v` (RLIMIT_AS) leaves. The same file can be
fine on a workstation and refused on a small laptop, so every refusal names the limit and where
it comes from instead of letting the machine swap or the process die.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

SHARE = 0.5  # of the available memory one job (a decode, a batch of images, a sound) may take
_UNKNOWN = 1 << 62  # when nothing says how much memory there is, nothing is refused on that account


class MemoryLimitError(ValueError):
    """A job would need more memory than this machine can give it; the message names the limit."""


def _meminfo_available() -> int | None:
    """Linux: MemAvailable (free RAM plus caches the kernel can drop)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _windows_available() -> int | None:
    import ctypes

    class _Status(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong)] + [
            (name, ctypes.c_ulonglong)
            for name in ("total", "avail", "pagefile", "pagefile_avail", "virtual", "virtual_avail", "ext")
        ]

    status = _Status()
    status.length = ctypes.sizeof(_Status)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None
    return int(status.avail)


def _sysconf_available() -> int | None:
    """Other POSIX systems: free pages (macOS has no such count: its total RAM is the bound)."""
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return int(os.sysconf(pages)) * int(os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            continue
    return None


def _address_space_left() -> int | None:
    """What RLIMIT_AS still allows this process to map, or None without such a limit."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        used = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        used = 0
    return max(0, soft - used)


def available_memory() -> int:
    """Bytes this process can still allocate, as far as the system says."""
    ram = _windows_available() if sys.platform == "win32" else _meminfo_available() or _sysconf_available()
    found = [value for value in (ram, _address_space_left()) if value is not None]
    return min(found) if found else _UNKNOWN


def memory_limit() -> int:
    """The most one job may take: SHARE of the available memory."""
    return int(available_memory() * SHARE)


def size_text(nbytes: float) -> str:
    """1536 -> '1.5 KB'; decimal units, as file managers show them."""
    units = ("bytes", "KB", "MB", "GB", "TB")
    step = 0
    while abs(nbytes) >= 1000 and step < len(units) - 1:
        nbytes, step = nbytes / 1000, step + 1
    return f"{nbytes:.0f} bytes" if step == 0 else f"{nbytes:.1f} {units[step]}"


def require(nbytes: int, what: str, advice: str = "") -> None:
    """Refuse a job that needs `nbytes`, naming the limit; `what` starts the sentence."""
    available = available_memory()
    limit = int(available * SHARE)
    if nbytes <= limit:
        return
    log.info("refused %s: %d bytes over the limit of %d", what, nbytes, limit)
    raise MemoryLimitError(
        f"{what} would need about {size_text(nbytes)} of memory; the limit on this machine is "
        f"{size_text(limit)} ({SHARE:.0%} of the {size_text(available)} available now)"
        + (f": {advice}" if advice else "")
    )


def read_file(path: Path, what: str) -> bytes:
    """A file the user named, read whole only after its size passed `require` (a 6 GB "picture"
    is refused with the limit named, not read). OSError and MemoryLimitError reach the caller."""
    require(path.stat().st_size, f"reading {what} {path.name}")
    return path.read_bytes()
