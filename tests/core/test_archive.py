"""Project as a zip: a real project survives the round trip, and every hostile zip is refused cleanly."""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from sqlite_checks import integrity

from studio.cli.project import add_project
from studio.errors import CommandError
from studio.inference.pipeline import Pipeline
from studio.pngmeta import encode_png, read_recipe
from studio.project.archive import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    ArchiveError,
    ArchiveLimits,
    export_project_zip,
    import_project_zip,
)
from studio.project.errors import ProjectError
from studio.project.store import Project

SHA_A = "ab" * 32


def sketch_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16), 3).save(buffer, format="PNG")
    return buffer.getvalue()


def build_project(folder: Path, pipeline: Pipeline) -> Project:
    """A real project: rendered nodes, a branch, a sketch asset, a star, a note, the trash and meta."""
    project = Project.open(folder)
    sketch = project.assets.put(sketch_png(), "png")
    recipes = pipeline.recipes_for("a misty lake under snowy mountains 🌄", seed=3, count=4, size=32)
    recipes[3] = recipes[3].replace(sketch=sketch)
    images = pipeline.render(recipes, assets=project.assets)
    pngs = [encode_png(image, recipe) for image, recipe in zip(images, recipes, strict=True)]
    root = project.add_node("generate", recipes[0], pngs[0])
    a = project.add_node("generate", recipes[1], pngs[1], parents=[root.id])
    b = project.add_node("edit", recipes[2], pngs[2], parents=[root.id])
    project.add_node("sketch", recipes[3], pngs[3], parents=[a.id, b.id])
    project.set_starred(a.id, True)
    project.set_note(b.id, "keep this one — the light is right")
    project.delete_node(b.id)
    project.meta_set("current", a.id)
    return project


def node_state(project: Project) -> list[tuple]:
    return [
        (n.id, n.parents, n.kind, n.recipe.to_json(), n.image, n.created, n.starred, n.note)
        for n in project.nodes() + project.trash()
    ]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".tmp-"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, pipeline: Pipeline) -> tuple[Path, Path]:
    """(project folder, its zip), made once for the rejection tests that need a real database."""
    base = tmp_path_factory.mktemp("exported")
    with build_project(base / "source", pipeline) as project:
        export_project_zip(project, base / "source.zip")
    return base / "source", base / "source.zip"


def test_round_trip_keeps_everything(tmp_path: Path, pipeline: Pipeline) -> None:
    calls: list[tuple[int, int]] = []
    with build_project(tmp_path / "source", pipeline) as source:  # exported while open and locked
        before = node_state(source)
        zip_path = export_project_zip(
            source, tmp_path / "out" / "lake.zip", progress=lambda d, t: calls.append((d, t))
        )
        images = {n.image: source.assets.get(n.image) for n in source.nodes() + source.trash()}
        sketch = source.nodes()[-1].recipe.sketch
        assert sketch is not None
        sketch_bytes = source.assets.get(sketch)
    assert zip_path == tmp_path / "out" / "lake.zip"
    total = calls[-1][1]
    assert calls == [(i, total) for i in range(1, total + 1)]
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("archive.json"))
    assert manifest["format"] == ARCHIVE_FORMAT and manifest["version"] == ARCHIVE_VERSION
    assert "project.lock" not in names and not any(n.endswith(("-wal", "-shm")) for n in names)
    assert len(names) == total

    import_calls: list[tuple[int, int]] = []
    target = tmp_path / "imported" / "lake"
    with import_project_zip(zip_path, target, progress=lambda d, t: import_calls.append((d, t))) as copy:
        assert copy.path == target
        assert copy.report == []
        assert node_state(copy) == before
        assert [n.id for n in copy.trash()] == [before[-1][0]]
        assert copy.meta_get("current") == before[1][0]
        for sha, data in images.items():
            assert copy.assets.get(sha) == data  # byte-identical images
            assert read_recipe(copy.assets.path(sha)) is not None
        assert copy.assets.get(sketch) == sketch_bytes
    assert import_calls[-1] == (len(names), len(names))
    assert integrity(target / "project.sqlite") == "ok"
    assert leftovers(target.parent) == [] and leftovers(tmp_path / "out") == []


def test_import_into_an_existing_empty_folder_and_export_overwrites(
    tmp_path: Path, exported: tuple[Path, Path]
) -> None:
    _, zip_path = exported
    (tmp_path / "empty").mkdir()
    with import_project_zip(zip_path, tmp_path / "empty") as project:
        assert len(project) == 3
        old = tmp_path / "again.zip"
        old.write_bytes(b"an old export")
        export_project_zip(project, old)
        with pytest.raises(ArchiveError, match="is a folder"):
            export_project_zip(project, tmp_path)
        with pytest.raises(ArchiveError, match="inside the project folder"):
            export_project_zip(project, project.path / "x.zip")
    with import_project_zip(old, tmp_path / "third") as project:
        assert len(project) == 3


# ---------------------------------------------------------------- crafted zips
def good_members(exported: tuple[Path, Path]) -> dict[str, bytes]:
    with zipfile.ZipFile(exported[1]) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are part of some attacks
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name.split("#dup")[0], data)
            if symlink is not None:
                info = zipfile.ZipInfo(symlink)
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, "/etc/passwd")
    return path


def manifest(**changes: object) -> bytes:
    return json.dumps({"format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION, **changes}).encode()


def newer_schema_db(tmp_path: Path, good: bytes) -> bytes:
    db = tmp_path / "newer.sqlite"
    db.write_bytes(good)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    return db.read_bytes()


CASES = {
    "dotdot": ({"../evil.txt": b"x"}, "path traversal"),
    "nested dotdot": ({"nodes/../../evil.json": b"x"}, "path traversal"),
    "backslash dotdot": ({"nodes\\..\\..\\evil.json": b"x"}, "path traversal"),
    "absolute": ({"/tmp/evil.json": b"x"}, "absolute path"),
    "drive letter": ({"C:/Windows/evil.json": b"x"}, "absolute path"),
    "drive relative": ({"C:evil.json": b"x"}, "absolute path"),
    "stray file": ({"run_me.sh": b"#!/bin/sh"}, "unexpected entry 'run_me.sh'"),
    "stray folder": ({"other/": b""}, "unexpected folder"),
    "asset in wrong shard": ({f"assets/cd/{SHA_A}.png": b"x"}, "unexpected entry"),
    "duplicate": ({"nodes/aaaa.json": b"{}", "nodes/aaaa.json#dup": b"{}"}, "appears twice"),
    "case collision": ({"nodes/aaaa.json": b"{}", "nodes/AAAA.json": b"{}"}, "appears twice"),
    "bad asset content": ({f"assets/ab/{SHA_A}.png": b"not what the name says"}, "what its name promises"),
    "no manifest": ({"archive.json": None}, "has no archive.json"),
    "manifest not json": ({"archive.json": b"{nope"}, "not valid JSON"),
    "other format": ({"archive.json": manifest(format="someone-else")}, "not a Synesthesia Studio project"),
    "newer version": ({"archive.json": manifest(version=ARCHIVE_VERSION + 1)}, "newer version"),
    "bad version": ({"archive.json": manifest(version="one")}, "no valid version"),
    "missing database": ({"project.sqlite": None}, "project.sqlite is missing"),
    "database not sqlite": ({"project.sqlite": b"PK not a database" * 10}, "not an SQLite database"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_zip_is_refused(tmp_path: Path, exported: tuple[Path, Path], case: str) -> None:
    changes, message = CASES[case]
    members = good_members(exported)
    for name, data in changes.items():
        if data is None:
            del members[name]
        else:
            members[name] = data
    zip_path = write_zip(tmp_path / "crafted.zip", members)
    target = tmp_path / "target"
    with pytest.raises(ArchiveError, match=message):
        import_project_zip(zip_path, target)
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_symlink_member_is_refused(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    zip_path = write_zip(tmp_path / "link.zip", good_members(exported), symlink=f"assets/ab/{SHA_A}.png")
    with pytest.raises(ArchiveError, match="symbolic link"):
        import_project_zip(zip_path, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_newer_database_schema_is_refused(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    members = good_members(exported)
    members["project.sqlite"] = newer_schema_db(tmp_path, members["project.sqlite"])
    zip_path = write_zip(tmp_path / "newer.zip", members)
    with pytest.raises(ArchiveError, match="newer version of Synesthesia Studio"):
        import_project_zip(zip_path, tmp_path / "target")
    assert not (tmp_path / "target").exists() and leftovers(tmp_path) == []


def test_size_limits_and_zip_bombs(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    members = good_members(exported)
    zip_path = write_zip(tmp_path / "normal.zip", members)
    biggest = max(len(data) for data in members.values())
    with pytest.raises(ArchiveError, match="more than the limit"):
        import_project_zip(zip_path, tmp_path / "t1", limits=ArchiveLimits(max_member_bytes=biggest - 1))
    total = sum(len(data) for data in members.values())
    with pytest.raises(ArchiveError, match="would unpack to more than"):
        import_project_zip(zip_path, tmp_path / "t2", limits=ArchiveLimits(max_total_bytes=total - 1))
    bomb = write_zip(tmp_path / "bomb.zip", {**members, "nodes/boom.json": b"\0" * (8 << 20)})
    with pytest.raises(ArchiveError, match="zip bomb"):
        import_project_zip(bomb, tmp_path / "t3")
    assert not any((tmp_path / t).exists() for t in ("t1", "t2", "t3")) and leftovers(tmp_path) == []


def lie_about_size(path: Path, member: str, declared: int) -> None:
    """Patch the central directory so `member` claims to unpack to `declared` bytes."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    name = member.encode()
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == name:
            struct.pack_into("<I", data, pos + 24, declared)
            break
        pos = data.find(b"PK\x01\x02", pos + 4)
    assert info.file_size != declared and pos != -1
    path.write_bytes(bytes(data))


def test_member_that_unpacks_to_more_than_it_declares_is_stopped(
    tmp_path: Path, exported: tuple[Path, Path]
) -> None:
    members = {**good_members(exported), "nodes/boom.json": b"\0" * (4 << 20)}
    zip_path = write_zip(tmp_path / "liar.zip", members)
    lie_about_size(zip_path, "nodes/boom.json", 1000)  # passes the declared-size checks
    with pytest.raises(ArchiveError, match="damaged|more than it declares"):
        import_project_zip(zip_path, tmp_path / "target")
    assert not (tmp_path / "target").exists() and leftovers(tmp_path) == []


def test_bad_targets_and_bad_files(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    _, zip_path = exported
    full = tmp_path / "full"
    full.mkdir()
    (full / "precious.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="is not empty"):
        import_project_zip(zip_path, full)
    assert [p.name for p in full.iterdir()] == ["precious.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArchiveError, match="not a folder"):
        import_project_zip(zip_path, tmp_path / "file")
    with pytest.raises(ArchiveError, match="there is no file"):
        import_project_zip(tmp_path / "missing.zip", tmp_path / "t")
    (tmp_path / "fake.zip").write_bytes(b"this is not a zip file at all")
    with pytest.raises(ArchiveError, match="not a readable zip"):
        import_project_zip(tmp_path / "fake.zip", tmp_path / "t")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(zip_path.read_bytes()[: zip_path.stat().st_size // 2])
    with pytest.raises(ArchiveError):
        import_project_zip(truncated, tmp_path / "t")
    assert not (tmp_path / "t").exists() and leftovers(tmp_path) == []
    assert issubclass(ArchiveError, ProjectError)


# ---------------------------------------------------------------- command line
def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="studio")
    add_project(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.run(args)


def test_cli_export_and_import(
    tmp_path: Path, exported: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    source, _ = exported
    out = tmp_path / "cli.zip"
    assert run_cli(["project", "export", str(source), "-o", str(out)]) == 0
    assert "exported 3 node(s)" in capsys.readouterr().out
    assert run_cli(["project", "import", str(out), str(tmp_path / "copy")]) == 0
    assert "imported 3 node(s)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="is not empty"):
        run_cli(["project", "import", str(out), str(tmp_path / "copy")])
    with pytest.raises(CommandError, match="there is no project"):
        run_cli(["project", "export", str(tmp_path / "nowhere"), "-o", str(out)])
    with Project.open(tmp_path / "copy"):  # export only reads: it works while the app has it open
        assert run_cli(["project", "export", str(tmp_path / "copy"), "-o", str(tmp_path / "open.zip")]) == 0
    with pytest.raises(SystemExit):
        run_cli(["project"])  # an action is required; argparse says so
