"""Reading one file out of the archives that game packages keep their sounds in.

A path in the real-sound manifest names a file inside an extracted Debian package; a `!` in it
steps into an archive file, e.g. `usr/share/games/ufoai/base/0snd.pk3!sound/ambience/fire.ogg`.
Supported archives, chosen by the archive file's extension:

* `.pk3`, `.wz`, `.zip` — zip files (Quake-engine games, Warzone 2100);
* `.ocg`, `.ocd`, `.ocf`, `.ocs` — OpenClonk's C4Group (a gzip stream with a scrambled header;
  sub-groups nest, their members are named `Sub.ocg/File.ogg`); a C4Group shipped as a folder
  is simply a folder;
* `.rcc` — a compiled Qt resource file (GCompris), read without Qt: the member path is the
  resource path without the leading `:/`;
* `.cat` — OpenTTD's sound catalogue (OpenSFX): the member is the entry's index.

Only the standard library is used; any malformed archive raises `ContainerError`.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from pathlib import Path


class ContainerError(ValueError):
    """An archive is malformed or lacks the requested member; the message names both."""


ZIP_SUFFIXES = (".pk3", ".wz", ".zip")
C4_SUFFIXES = (".ocg", ".ocd", ".ocf", ".ocs")
MAX_MEMBER_BYTES = 256 * 1024 * 1024  # no sound file we list is near this; a larger claim is damage


def read_path(root: Path, path: str) -> bytes:
    """The bytes of `path` (`FILE` or `ARCHIVE!MEMBER`) under an extracted package `root`."""
    outer, sep, member = path.partition("!")
    if "!" in member:
        raise ContainerError(f"{path}: only one level of archive is supported")
    file = _inside(root, outer)
    if not sep:
        if not file.is_file():
            raise ContainerError(f"{outer} is not in the package")
        return file.read_bytes()
    suffix = file.suffix.lower()
    if suffix in C4_SUFFIXES and file.is_dir():  # an unpacked C4Group is a plain folder
        return read_path(root, f"{outer}/{member}")
    if not file.is_file():
        raise ContainerError(f"{outer} is not in the package")
    if suffix in ZIP_SUFFIXES:
        return zip_member(file, member)
    if suffix in C4_SUFFIXES:
        return c4group_member(file.read_bytes(), member, label=outer)
    if suffix == ".rcc":
        return rcc_member(file.read_bytes(), member, label=outer)
    if suffix == ".cat":
        return opensfx_member(file.read_bytes(), member, label=outer)
    raise ContainerError(f"{outer}: unknown archive type {suffix!r}")


def _inside(root: Path, relative: str) -> Path:
    """`root / relative`, refusing paths that climb out of the package (`..`, absolute)."""
    parts = Path(relative.lstrip("/")).parts
    if not parts or ".." in parts:
        raise ContainerError(f"bad path in manifest: {relative!r}")
    return root.joinpath(*parts)


# --------------------------------------------------------------------------- zip
def zip_member(file: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(file) as archive:
            info = archive.getinfo(member)
            if info.file_size > MAX_MEMBER_BYTES:
                raise ContainerError(f"{file.name}!{member} claims {info.file_size} bytes")
            return archive.read(info)
    except KeyError:
        raise ContainerError(f"{file.name} has no member {member!r}") from None
    except (zipfile.BadZipFile, OSError, zlib.error) as exc:
        raise ContainerError(f"{file.name} is not a readable zip archive ({exc})") from exc


# --------------------------------------------------------------------------- C4Group (OpenClonk)
C4_HEADER = 204  # id[28], Ver1, Ver2, Entries, reserved[164]
C4_ENTRY = 316  # FileName[260], Packed, ChildGroup, Size, reserved, Offset, ... (little-endian int32)
C4_ID = b"RedWolf Design GrpFolder"


def _c4_unscramble(header: bytes) -> bytes:
    """Undo C4Group's MemScramble: swap byte 0 and 2 of every triple, XOR every byte with 237."""
    data = bytearray(header)
    for i in range(0, len(data) - 2, 3):
        data[i], data[i + 2] = data[i + 2], data[i]
    return bytes(b ^ 237 for b in data)


def c4group_entries(raw: bytes, prefix: str = "") -> dict[str, tuple[int, int]]:
    """{member name: (start, end)} of every file in a decompressed group, sub-groups flattened."""
    if len(raw) < C4_HEADER:
        raise ContainerError("C4Group too short for its header")
    header = _c4_unscramble(raw[:C4_HEADER])
    if not header.startswith(C4_ID):
        raise ContainerError("not a C4Group (header id missing)")
    (entries,) = struct.unpack_from("<i", header, 36)
    if not 0 <= entries <= 100_000 or C4_HEADER + entries * C4_ENTRY > len(raw):
        raise ContainerError(f"C4Group header claims {entries} entries")
    base = C4_HEADER + entries * C4_ENTRY
    found: dict[str, tuple[int, int]] = {}
    for i in range(entries):
        core = raw[C4_HEADER + i * C4_ENTRY : C4_HEADER + (i + 1) * C4_ENTRY]
        name = core[:260].split(b"\0", 1)[0].decode("latin-1")
        _packed, child, size, _reserved, offset = struct.unpack_from("<iiiii", core, 260)
        start, end = base + offset, base + offset + size
        if offset < 0 or size < 0 or end > len(raw):
            raise ContainerError(f"C4Group entry {name!r} lies outside the group")
        if child:
            for sub, (s, e) in c4group_entries(raw[start:end], f"{prefix}{name}/").items():
                found[sub] = (start + s, start + e)
        else:
            found[prefix + name] = (start, end)
    return found


def c4group_open(data: bytes) -> bytes:
    """Decompress a packed C4Group file (gzip with its magic bytes changed to 1E 8C)."""
    if data[:2] == b"\x1e\x8c":
        data = b"\x1f\x8b" + data[2:]
    if data[:2] != b"\x1f\x8b":
        raise ContainerError("not a packed C4Group (no gzip stream)")
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ContainerError(f"C4Group stream is damaged ({exc})") from exc


def c4group_member(data: bytes, member: str, label: str = "C4Group") -> bytes:
    raw = c4group_open(data)
    try:
        entries = c4group_entries(raw)
    except ContainerError as exc:
        raise ContainerError(f"{label}: {exc}") from exc
    if member not in entries:
        raise ContainerError(f"{label} has no member {member!r}")
    start, end = entries[member]
    return raw[start:end]


# --------------------------------------------------------------------------- Qt resources (.rcc)
RCC_DIRECTORY, RCC_ZLIB, RCC_ZSTD = 0x02, 0x01, 0x04


def rcc_entries(data: bytes) -> dict[str, tuple[int, int]]:
    """{resource path: (data offset, flags)} of every file in a compiled Qt resource."""
    if data[:4] != b"qres" or len(data) < 20:
        raise ContainerError("not a Qt resource file (no 'qres' magic)")
    version, tree, payload, names = struct.unpack_from(">IIII", data, 4)
    if version not in (1, 2, 3):
        raise ContainerError(f"Qt resource version {version} is not supported")
    node_size = 14 if version == 1 else 22

    def name_of(offset: int) -> str:
        (length,) = struct.unpack_from(">H", data, names + offset)
        start = names + offset + 6
        return data[start : start + 2 * length].decode("utf-16-be")

    found: dict[str, tuple[int, int]] = {}
    stack = [(0, "")]
    seen = 0
    while stack:
        index, path = stack.pop()
        seen += 1
        if seen > 1_000_000:
            raise ContainerError("Qt resource tree does not end")
        at = tree + index * node_size
        if at + node_size > len(data):
            raise ContainerError("Qt resource tree lies outside the file")
        name_offset, flags = struct.unpack_from(">IH", data, at)
        name = name_of(name_offset) if index else ""
        full = f"{path}/{name}" if path else name
        if flags & RCC_DIRECTORY:
            count, first = struct.unpack_from(">II", data, at + 6)
            stack.extend((first + k, full) for k in range(count))
        else:
            (offset,) = struct.unpack_from(">I", data, at + 10)
            found[full] = (payload + offset, flags)
    return found


def rcc_member(data: bytes, member: str, label: str = "Qt resource") -> bytes:
    entries = rcc_entries(data)
    member = member.removeprefix(":/").lstrip("/")
    if member not in entries:
        raise ContainerError(f"{label} has no member {member!r}")
    at, flags = entries[member]
    (size,) = struct.unpack_from(">I", data, at)
    if size > MAX_MEMBER_BYTES or at + 4 + size > len(data):
        raise ContainerError(f"{label}!{member} claims {size} bytes")
    blob = data[at + 4 : at + 4 + size]
    if flags & RCC_ZSTD:
        raise ContainerError(f"{label}!{member} is zstd-compressed, which is not supported")
    if flags & RCC_ZLIB:  # qCompress: 4-byte big-endian length, then a zlib stream
        try:
            return zlib.decompress(blob[4:])
        except zlib.error as exc:
            raise ContainerError(f"{label}!{member} is damaged ({exc})") from exc
    return blob


# --------------------------------------------------------------------------- OpenTTD sound catalogue
def opensfx_entries(data: bytes) -> list[tuple[str, bytes]]:
    """[(description, WAV bytes)] of an OpenTTD .cat: a table of (offset, size), each entry a
    length-prefixed name (OpenSFX puts title, author and licence there) followed by a RIFF file."""
    if len(data) < 8:
        raise ContainerError("sound catalogue too short")
    first = struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF
    if first % 8 or not 8 <= first <= len(data):
        raise ContainerError("sound catalogue table is damaged")
    out = []
    for i in range(first // 8):
        offset, size = struct.unpack_from("<II", data, 8 * i)
        offset &= 0x7FFFFFFF
        if offset + size > len(data) or size < 1:
            raise ContainerError(f"sound catalogue entry {i} lies outside the file")
        length = data[offset]
        name = data[offset + 1 : offset + 1 + length].split(b"\0", 1)[0].decode("latin-1")
        out.append((name, data[offset + 1 + length : offset + size]))
    return out


def opensfx_member(data: bytes, member: str, label: str = "sound catalogue") -> bytes:
    entries = opensfx_entries(data)
    if not member.isdigit() or int(member) >= len(entries):
        raise ContainerError(f"{label} has no entry {member!r} (it has {len(entries)})")
    return entries[int(member)][1]


def list_members(file: Path) -> list[str]:
    """Every member name of an archive file (for surveys and error messages)."""
    suffix = file.suffix.lower()
    if suffix in ZIP_SUFFIXES:
        with zipfile.ZipFile(file) as archive:
            return archive.namelist()
    data = file.read_bytes()
    if suffix in C4_SUFFIXES:
        return list(c4group_entries(c4group_open(data)))
    if suffix == ".rcc":
        return list(rcc_entries(data))
    if suffix == ".cat":
        return [str(i) for i in range(len(opensfx_entries(data)))]
    raise ContainerError(f"{file.name}: unknown archive type {suffix!r}")
