"""sha256 of files and bytes, cached by (path, size, mtime) so start-up does not re-hash big models.

The cache is kept in memory and in a small JSON file under the user data folder, so a second
start of the app (or of `studio …`) does not read hundreds of MB of ONNX again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from studio import paths

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_MAX_ENTRIES = 512
_lock = threading.Lock()
_cache: dict[str, str] | None = None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cache_file() -> Path:
    return paths.data_home() / "cache" / "sha256.json"


def _load() -> dict[str, str]:
    global _cache
    if _cache is None:
        try:
            data = json.loads(_cache_file().read_text(encoding="utf-8"))
            _cache = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (OSError, ValueError):
            _cache = {}
    return _cache


def _save(cache: dict[str, str]) -> None:
    """Best effort: a read-only home only costs a re-hash next time."""
    target = _cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(list(cache.items())[-_MAX_ENTRIES:])), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        log.debug("could not write hash cache %s: %s", target, exc)


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's content."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    with _lock:
        cached = _load().get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    with _lock:
        cache = _load()
        cache[key] = value
        _save(cache)
    return value
