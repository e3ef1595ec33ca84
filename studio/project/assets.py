"""Content-addressed asset files: assets/ab/abcdef….png, named by the sha256 of their bytes.

Identical content is stored once, a file name proves what it should contain, and a node row
can never point at a half-written image because files are complete before they get a name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

from studio.project.errors import ProjectError
from studio.project.fsio import atomic_write, make_dir, remove_temp_files

log = logging.getLogger(__name__)

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
EXT_RE = re.compile(r"^[a-z0-9]{1,10}$")


def check_sha(sha: object) -> str:
    """The sha as a safe file-name stem, or a clear error (it also blocks path tricks)."""
    if not isinstance(sha, str) or not SHA_RE.match(sha):
        raise ProjectError(f"{sha!r} is not an asset id (64 lowercase hex digits of a sha256)")
    return sha


class AssetStore:
    """The `assets/` folder of one project."""

    def __init__(self, root: Path, readonly: bool = False) -> None:
        self.root = root
        self.readonly = readonly

    def _find(self, sha: str) -> Path | None:
        shard = self.root / sha[:2]
        try:
            with os.scandir(shard) as entries:
                for entry in entries:
                    stem, dot, _ext = entry.name.partition(".")
                    if stem == sha and dot:
                        return Path(entry.path)
        except OSError:
            return None
        return None

    def put(self, data: bytes, ext: str) -> str:
        """Store `data` durably and return its sha256; storing the same bytes again is free."""
        if self.readonly:
            raise ProjectError(f"the project at {self.root.parent} is read-only; cannot save files")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProjectError(f"asset data must be bytes, not {type(data).__name__}")
        data = bytes(data)
        clean_ext = str(ext).lower().lstrip(".")
        if not EXT_RE.match(clean_ext):
            raise ProjectError(f"{ext!r} is not a usable file extension (letters and digits, e.g. 'png')")
        sha = hashlib.sha256(data).hexdigest()
        existing = self._find(sha)
        try:
            if existing is not None and existing.stat().st_size == len(data):
                return sha
            if existing is not None:  # a damaged copy: repair it in place, keep one file per sha
                log.warning("asset %s had the wrong size; rewriting it", sha)
                target = existing
            else:
                make_dir(self.root / sha[:2])
                target = self.root / sha[:2] / f"{sha}.{clean_ext}"
            atomic_write(target, data)
        except OSError as exc:
            raise ProjectError(f"could not save a file in {self.root}: {exc.strerror or exc}") from exc
        return sha

    def restore(self, sha: str, data: bytes) -> bool:
        """Put back the exact bytes of a damaged asset; whether it worked.

        Allowed in a project opened for reading too: the name proves the bytes are the
        original ones, so this repairs a cache file and cannot conflict with a writer.
        """
        if hashlib.sha256(data).hexdigest() != check_sha(sha):
            return False
        target = self._find(sha)
        try:
            if target is None:
                return False
            atomic_write(target, bytes(data))
        except OSError as exc:
            log.warning("could not repair asset %s: %s", sha, exc)
            return False
        log.info("repaired damaged asset %s", target)
        return True

    def path(self, sha: str) -> Path:
        """Where the asset's file is; raises ProjectError when it is missing."""
        found = self._find(check_sha(sha))
        if found is None:
            raise ProjectError(f"asset {sha} is missing from {self.root}")
        return found

    def has(self, sha: str) -> bool:
        return isinstance(sha, str) and bool(SHA_RE.match(sha)) and self._find(sha) is not None

    def get(self, sha: str) -> bytes:
        """The asset's bytes, checked against its name so damage is reported, not rendered."""
        path = self.path(sha)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ProjectError(f"could not read asset {path}: {exc.strerror or exc}") from exc
        if hashlib.sha256(data).hexdigest() != sha:
            raise ProjectError(f"asset {path.name} is damaged: its content does not match its name")
        return data

    def existing(self) -> set[str]:
        """All asset ids on disk, from one scan of the shard folders (cheap for 10,000 files)."""
        found: set[str] = set()
        try:
            shards = [e for e in os.scandir(self.root) if e.is_dir() and len(e.name) == 2]
        except OSError:
            return found
        for shard in shards:
            try:
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        stem = entry.name.partition(".")[0]
                        if SHA_RE.match(stem):
                            found.add(stem)
            except OSError:
                continue
        return found

    def remove_temp_files(self) -> int:
        """Clear half-written files a crash left in the shard folders."""
        try:
            shards = [Path(e.path) for e in os.scandir(self.root) if e.is_dir()]
        except OSError:
            return 0
        return sum(remove_temp_files(shard) for shard in shards)
