"""Limits that keep a hostile project zip from filling the disk or the memory.

A zip states each member's sizes and its entry count before anything is unpacked, so every
limit here is checked on those statements; extraction then stops any member that unpacks to
more than it stated. The entry count and the central directory's size are read from the zip's
last record, before Python's zipfile builds an object for every entry.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from studio.limits import available_memory
from studio.project.errors import ProjectError

log = logging.getLogger(__name__)

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF
_CD_BYTES_PER_ENTRY = 1024  # a project entry needs about 150 (name, header, zip64 extra)
_MEMORY_PER_MEMBER = 16 << 10  # zip index entry, then the node it becomes in the open project
_DISK_RESERVE = 512 << 20  # an import must not leave the disk completely full


class ArchiveError(ProjectError):
    """A project zip could not be written or was refused on import; the message says why."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps that keep a hostile zip from filling the disk or memory.

    `fitted` lowers the size and count caps to what the machine can spare right now.
    """

    max_member_bytes: int = 4 << 30
    max_total_bytes: int = 64 << 30
    max_members: int = 1_000_000
    max_ratio: float = 200.0  # one member: real projects (PNG, JSON, SQLite) stay far below
    ratio_floor_bytes: int = 256 << 10  # smaller members may compress extremely well (empty pages)
    max_total_ratio: float = 100.0  # the whole zip: many small bombs add up to a big one
    total_ratio_floor_bytes: int = 64 << 20

    def fitted(self, folder: Path) -> ArchiveLimits:
        """These limits, lowered to the free disk at `folder` and the available memory."""
        free = shutil.disk_usage(folder).free
        total = min(self.max_total_bytes, max(free - _DISK_RESERVE, 0))
        members = min(self.max_members, max(available_memory() // 4 // _MEMORY_PER_MEMBER, 1000))
        return dataclasses.replace(self, max_total_bytes=total, max_members=members)


def mb(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB"


def check_directory(zip_path: Path, limits: ArchiveLimits) -> None:
    """Refuse a zip whose entry count or index size is over the limits, before it is parsed.

    A zip that has no readable last record is left to zipfile, which reports it as damaged.
    """
    try:
        with open(zip_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            tail_start = max(size - _EOCD_SIZE - _MAX_COMMENT, 0)
            fh.seek(tail_start)
            tail = fh.read()
            at = tail.rfind(_EOCD)
            if at < 0 or len(tail) - at < _EOCD_SIZE:
                return
            entries, cd_bytes = struct.unpack_from("<HI", tail, at + 10)
            if entries == 0xFFFF or cd_bytes == 0xFFFFFFFF:
                entries, cd_bytes = _zip64_directory(fh, tail_start + at, entries, cd_bytes)
    except FileNotFoundError:
        return  # the caller reports the missing file
    except OSError as exc:
        raise ArchiveError(f"cannot read {zip_path}: {exc.strerror or exc}") from exc
    if entries > limits.max_members:
        raise ArchiveError(
            f"{zip_path} was refused: it has {entries} entries, more than the limit of "
            f"{limits.max_members} this computer's memory allows"
        )
    if cd_bytes > limits.max_members * _CD_BYTES_PER_ENTRY:
        raise ArchiveError(
            f"{zip_path} was refused: its index is {mb(cd_bytes)}, more than the limit of "
            f"{mb(limits.max_members * _CD_BYTES_PER_ENTRY)}"
        )


def _zip64_directory(fh: BinaryIO, eocd_at: int, entries: int, cd_bytes: int) -> tuple[int, int]:
    """Entry count and index size from the zip64 record, when the zip has one."""
    if eocd_at < 20:
        return entries, cd_bytes
    fh.seek(eocd_at - 20)
    locator = fh.read(20)
    if len(locator) < 20 or not locator.startswith(_EOCD64_LOCATOR):
        return entries, cd_bytes
    (record_at,) = struct.unpack_from("<Q", locator, 8)
    fh.seek(record_at)
    record = fh.read(56)
    if len(record) < 56 or not record.startswith(_EOCD64):
        return entries, cd_bytes
    return struct.unpack_from("<QQ", record, 32)


def check_member(zip_path: Path, info: zipfile.ZipInfo, limits: ArchiveLimits) -> None:
    """Refuse one member whose stated size or compression ratio is over the limits."""
    name = info.filename
    if info.file_size > limits.max_member_bytes:
        raise ArchiveError(
            f"{zip_path} was refused: {name!r} would unpack to {mb(info.file_size)}, "
            f"more than the limit of {mb(limits.max_member_bytes)}"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
        raise ArchiveError(
            f"{zip_path} was refused: {name!r} is compressed {ratio:.0f} times, more than the limit "
            f"of {limits.max_ratio:.0f} (only a zip bomb does that)"
        )


def check_totals(zip_path: Path, members: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """Refuse a zip whose members together unpack to too much, or compress too well to be real."""
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if total > limits.max_total_bytes:
        raise ArchiveError(
            f"{zip_path} was refused: it would unpack to more than the limit of "
            f"{mb(limits.max_total_bytes)} ({mb(total)}; the limit is what the disk can spare)"
        )
    ratio = total / max(packed, 1)
    if total > limits.total_ratio_floor_bytes and ratio > limits.max_total_ratio:
        raise ArchiveError(
            f"{zip_path} was refused: its {len(members)} entries unpack to {mb(total)} from "
            f"{mb(packed)}, compressed {ratio:.0f} times in all, more than the limit of "
            f"{limits.max_total_ratio:.0f} (only a zip bomb does that)"
        )
