"""Reading the 100-byte SQLite file header without letting SQLite touch the file.

The schema version a newer app wrote sits in this header, so a newer project is refused before
it is opened. Damage can put any number there too, so a version counts only when the rest of
the header is what SQLite itself writes: fixed fields, a legal page size, zeroed reserved bytes.
Random bytes pass all of these about once in 2^180 tries.
"""

from __future__ import annotations

HEADER_BYTES = 100
SQLITE_MAGIC = b"SQLite format 3\x00"
USER_VERSION_OFFSET = 60
_FIXED = {21: 64, 22: 32, 23: 32}  # payload fractions: "must be 64, 32 and 32" in the file format
_RESERVED = slice(72, 92)  # "reserved for expansion and must be zero"


def header_problem(header: bytes) -> str | None:
    """Why `header` cannot be the start of an SQLite database, or None when it can."""
    if len(header) < HEADER_BYTES:
        return "it is shorter than an SQLite header"
    if not header.startswith(SQLITE_MAGIC):
        return "it is not an SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    if page_size != 1 and (page_size < 512 or page_size & (page_size - 1)):
        return f"its header is damaged (page size {page_size})"
    if header[18] not in (1, 2) or header[19] not in (1, 2):
        return "its header is damaged (file format versions)"
    if any(header[offset] != value for offset, value in _FIXED.items()):
        return "its header is damaged (payload fractions)"
    if int.from_bytes(header[44:48], "big") > 4 or int.from_bytes(header[56:60], "big") > 3:
        return "its header is damaged (schema format or text encoding)"
    if any(header[_RESERVED]):
        return "its header is damaged (reserved bytes are not zero)"
    return None


def user_version(header: bytes) -> int:
    """The schema version stored in a header that `header_problem` accepted."""
    return int.from_bytes(header[USER_VERSION_OFFSET : USER_VERSION_OFFSET + 4], "big")
