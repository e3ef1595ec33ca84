"""Hostile and damaged projects: zip bombs, booby-trapped databases, flipped bytes, killed
imports, and readers beside the app. Each case ends in a clear message with nothing lost.

Everything is real: SQLite files, zips, assets, processes killed with SIGKILL and the `studio`
command line. Commands that a regression could make eat memory run in a child process under
`resource.setrlimit(RLIMIT_AS)`, so such a regression fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlite_checks import integrity
from test_archive import write_zip
from test_project_recovery import make_project

from studio.paths import REPO_ROOT
from studio.pngmeta import read_pixels
from studio.project.archive import export_project_zip, import_project_zip
from studio.project.leftovers import HOST_TAG
from studio.project.store import Project, ProjectLockedError

MB = 1 << 20
Exported = tuple[Path, dict[str, bytes]]  # a project folder and the members of its export

# Runs `studio.cli.main` (the real entry point) with the address space capped at what the
# process uses after its imports plus a headroom, so a regression fails with MemoryError.
LIMITED_CLI = r"""
import resource, sys
import studio.cli, studio.project.archive
def used():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()
cap = used() + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
sys.exit(studio.cli.main(sys.argv[2:]))
"""


def studio(
    *args: str | Path, cwd: Path, headroom: int = 1024 * MB, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`studio ARGS` in a child process with limited memory."""
    full_env = {**os.environ, **(env or {}), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), full_env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", LIMITED_CLI, str(headroom), *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a command that failed cleanly."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A real three-node project and the members of its real export."""
    make_project(tmp_path / "source", 3)
    with Project.open(tmp_path / "source") as project:
        zip_path = export_project_zip(project, tmp_path / "source.zip")
    with zipfile.ZipFile(zip_path) as zf:
        return tmp_path / "source", {name: zf.read(name) for name in zf.namelist()}


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- 1. zip bombs
def test_megabyte_members_compressed_a_thousand_times_are_refused(tmp_path: Path, exported: Exported) -> None:
    """The reported bomb, scaled down: 1 MiB members of zeros (3,000 of them came from 3.8 MB)."""
    _, members = exported
    bombs = {f"nodes/bomb{i:04d}.json": bytes(MB) for i in range(100)}
    zip_path = write_zip(tmp_path / "bomb.zip", {**members, **bombs})
    assert zip_path.stat().st_size < 2 * MB
    work = tmp_path / "work"
    work.mkdir()
    result = studio("project", "import", zip_path, work / "target", cwd=tmp_path, headroom=512 * MB)
    line = error_line(result)
    assert "compressed" in line and "more than the limit of 200" in line and "zip bomb" in line
    assert entries(work) == []  # nothing unpacked, nothing left behind


def test_many_small_bombs_add_up_and_are_refused(tmp_path: Path, exported: Exported) -> None:
    """Members each too small for the per-member ratio check, 94 MB from a few hundred KB in all."""
    _, members = exported
    bombs = {f"nodes/bomb{i:04d}.json": bytes(240 << 10) for i in range(400)}
    zip_path = write_zip(tmp_path / "bombs.zip", {**members, **bombs})
    work = tmp_path / "work"
    work.mkdir()
    result = studio("project", "import", zip_path, work / "target", cwd=tmp_path, headroom=512 * MB)
    line = error_line(result)
    assert "compressed" in line and "in all, more than the limit of 100" in line
    assert entries(work) == []


def zip_with_huge_index(path: Path, count: int, name_len: int) -> Path:
    """A real zip64 file whose index lists one tiny member `count` times: a 37 MB index that
    Python's zipfile turns into `count` objects, built in a blink with bytes arithmetic."""
    name = ("nodes/" + "a" * (name_len - 11) + ".json").encode()
    data = b"{}"
    crc = zlib.crc32(data)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, 2, 2, len(name), 0) + name + data
    record = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, crc, 2, 2, len(name), 0, 0, 0, 0, 0, 0
    )
    index = (record + name) * count
    eocd64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(index), len(local))
    locator = struct.pack("<IIQI", 0x07064B50, 0, len(local) + len(index), 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(local + index + eocd64 + locator + eocd)
    return path


LIMITED_IMPORT = r"""
import resource, sys
from pathlib import Path
from studio.project.archive import ArchiveError, ArchiveLimits, import_project_zip
def used():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()
cap = used() + 64 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
try:
    import_project_zip(Path(sys.argv[1]), Path(sys.argv[2]), limits=ArchiveLimits(max_members=1000))
except ArchiveError as exc:
    print(exc)
"""


def test_entry_count_is_refused_before_the_index_is_read(tmp_path: Path) -> None:
    # a real zip: before this check, zipfile read all 150,000 entries and hit the memory limit
    zip_path = zip_with_huge_index(tmp_path / "index.zip", 150_000, 200)
    result = subprocess.run(
        [sys.executable, "-c", LIMITED_IMPORT, str(zip_path), str(tmp_path / "target")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "it has 150000 entries, more than the limit of 1000" in result.stdout
    assert not (tmp_path / "target").exists()


# ---------------------------------------------------------------- 2. booby-trapped databases
TRAPS = (
    "CREATE TRIGGER wipe AFTER UPDATE ON nodes BEGIN DELETE FROM nodes; END",
    "CREATE TRIGGER trash AFTER INSERT ON meta BEGIN UPDATE nodes SET deleted = 1; END",
    "CREATE VIEW everything AS SELECT * FROM nodes",
    "CREATE TABLE stash (secret TEXT)",
)


def test_imported_database_triggers_never_run(tmp_path: Path, exported: Exported) -> None:
    _, members = exported
    trapped = tmp_path / "trapped.sqlite"
    trapped.write_bytes(members["project.sqlite"])
    conn = sqlite3.connect(trapped)
    for sql in TRAPS:
        conn.execute(sql)
    conn.commit()
    conn.close()
    zip_path = write_zip(tmp_path / "trapped.zip", {**members, "project.sqlite": trapped.read_bytes()})
    with import_project_zip(zip_path, tmp_path / "target") as project:
        assert any("trigger 'wipe'" in line and "view 'everything'" in line for line in project.report)
        ids = [n.id for n in project.nodes()]
        project.meta_set("current", ids[0])  # would fire `trash`
        project.set_starred(ids[1], True)  # would fire `wipe`
    db = tmp_path / "target" / "project.sqlite"
    conn = sqlite3.connect(db)
    objects = sorted(conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
    rows = conn.execute("SELECT count(*), sum(deleted) FROM nodes").fetchone()
    conn.close()
    assert objects == [("index", "nodes_created"), ("table", "meta"), ("table", "nodes")]
    assert rows == (3, 0) and integrity(db) == "ok"
    with Project.open(tmp_path / "target") as project:
        assert [n.id for n in project.nodes()] == ids and project.trash() == []
        assert project.node(ids[1]).starred and project.report == []


def test_unusable_imported_database_is_set_aside_and_the_journal_used(
    tmp_path: Path, exported: Exported
) -> None:
    """A `nodes` that is a view (it could run anything on every read) is not a project table."""
    _, members = exported
    fake = tmp_path / "fake.sqlite"
    conn = sqlite3.connect(fake)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("CREATE VIEW nodes AS SELECT 1 AS id")
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    zip_path = write_zip(tmp_path / "fake.zip", {**members, "project.sqlite": fake.read_bytes()})
    with import_project_zip(zip_path, tmp_path / "target") as project:
        assert len(project.nodes()) == 3  # from the journal
        assert any("could not be used (it has no nodes table)" in line for line in project.report)
    assert (tmp_path / "target" / "project.sqlite.unusable-import").exists()


# ---------------------------------------------------------------- 3. flipped bytes
def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def test_export_leaves_out_a_damaged_asset_and_says_so(tmp_path: Path) -> None:
    nodes = make_project(tmp_path / "p", 3)
    with Project.open(tmp_path / "p") as project:
        flip_byte(project.assets.path(nodes[1].image))
    exported = studio("project", "export", "p", "-o", "p.zip", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "exported 3 node(s)" in exported.stdout
    damage = "is damaged (its content does not match its name) and was left out; it is the image of"
    assert f"{damage} {nodes[1].id}" in exported.stderr
    imported = studio("project", "import", "p.zip", "copy", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert f"1 node had missing images: {nodes[1].id}" in imported.stderr
    with Project.open(tmp_path / "copy") as copy:
        assert [n.id for n in copy.nodes()] == [n.id for n in nodes]
        assert copy.assets.has(nodes[0].image) and not copy.assets.has(nodes[1].image)


def test_render_re_renders_a_damaged_stored_image(tmp_path: Path, models_dir: Path) -> None:
    env = {"SYNESTHESIA_MODELS": str(models_dir), "SYNESTHESIA_HOME": str(tmp_path / "home")}
    made = studio(
        "generate", "a stormy sea", "--size", "32", "--project", "proj", "--device", "cpu",
        cwd=tmp_path, env=env, headroom=4096 * MB,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with Project.open(tmp_path / "proj") as project:
        (node,) = project.nodes()
        stored = project.assets.path(node.image)
    original = stored.read_bytes()
    flip_byte(stored)
    rendered = studio(
        "render", "proj", node.id, "-o", "again.png", "--device", "cpu",
        cwd=tmp_path, env=env, headroom=4096 * MB,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    assert f"the stored image of node {node.id} was damaged; re-rendered from its recipe" in rendered.stdout
    assert "repaired" in rendered.stdout and stored.read_bytes() == original  # pixels are a cache
    assert np.array_equal(read_pixels(tmp_path / "again.png"), read_pixels(original))


def test_corrupt_journal_file_is_rewritten_from_the_database(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 4)
    journal = folder / "nodes" / f"{nodes[2].id}.json"
    intact = journal.read_bytes()
    journal.write_bytes(intact[:40] + b"\x00garbage" + intact[48:])
    exported = studio("project", "export", "p", "-o", "p.zip", cwd=tmp_path)  # read-only: repairs the zip
    assert exported.returncode == 0, exported.stderr
    repaired = "1 journal file(s) were damaged; the export holds the records from the database instead"
    assert f"{repaired}: {nodes[2].id}" in exported.stderr
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert json.loads(zf.read(f"nodes/{nodes[2].id}.json"))["id"] == nodes[2].id
    with Project.open(folder) as project:
        assert project.report == [
            f"1 journal file was damaged and rewritten from the database: {nodes[2].id}."
        ]
    assert journal.read_bytes() == intact
    (folder / "project.sqlite").unlink()  # the journal alone now rebuilds every node
    with Project.open(folder) as project:
        assert project.nodes() == nodes


def test_a_flipped_digit_that_still_parses_is_found_and_rewritten(tmp_path: Path) -> None:
    """A journal record that is still valid JSON but says another date is damage: its checksum
    finds it while the database still holds the record, and the file is rewritten."""
    folder = tmp_path / "p"
    nodes = make_project(folder, 3)
    journal = folder / "nodes" / f"{nodes[1].id}.json"
    intact = journal.read_bytes()
    record = json.loads(intact)
    created = json.dumps(record["created"])
    flipped = created[:3] + ("1" if created[3] != "1" else "2") + created[4:]
    journal.write_bytes(intact.replace(f'"created": {created}'.encode(), f'"created": {flipped}'.encode()))
    assert json.loads(journal.read_bytes())["created"] != record["created"]
    with Project.open(folder) as project:
        assert project.report == [
            f"1 journal file was damaged and rewritten from the database: {nodes[1].id}."
        ]
    assert journal.read_bytes() == intact


def test_a_huge_integer_date_in_a_journal_reads_as_damage_not_an_overflow(tmp_path: Path) -> None:
    from studio.project.node import DAMAGED_AS, node_from_parts

    node = make_project(tmp_path / "p", 1)[0]
    far = node_from_parts(node.id, [], "generate", node.recipe.to_dict(), node.image, 10**400, False, "")
    past = node_from_parts(node.id, [], "generate", node.recipe.to_dict(), node.image, -(10**400), False, "")
    assert (far.created, past.created) == (DAMAGED_AS, 0.0)


# ---------------------------------------------------------------- 4. damaged header or newer schema
def test_random_bytes_after_the_header_are_damage_not_a_newer_version(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 5)
    db = folder / "project.sqlite"
    data = db.read_bytes()
    noise = random.Random(3686572701).randbytes(len(data) - 16)
    db.write_bytes(data[:16] + noise)  # "SQLite format 3\0", then noise where the version was
    history = studio("history", "p", "--json", cwd=tmp_path)  # read-only: shows the journal
    assert history.returncode == 0, history.stderr
    assert [n["id"] for n in json.loads(history.stdout)] == [n.id for n in nodes]
    assert "damaged" in history.stderr and "newer" not in history.stderr
    with Project.open(folder) as project:
        assert project.nodes() == nodes
        assert any(
            "header is damaged" in line and "rebuilt from the journal" in line for line in project.report
        )
    assert integrity(db) == "ok"
    assert len([p for p in folder.iterdir() if p.name.startswith("project.sqlite.corrupt-")]) == 1


# ---------------------------------------------------------------- 5. leftovers of killed processes
KILLED_IMPORT = r"""
import sys, time
from pathlib import Path
from studio.project.archive import import_project_zip
def stall(done, total):
    if done == 3:
        print("unpacking", flush=True)
        time.sleep(600)
import_project_zip(Path(sys.argv[1]), Path(sys.argv[2]), progress=stall)
"""


@pytest.fixture
def sleeper() -> Iterator[int]:
    """The pid of a live process."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield child.pid
    child.kill()
    child.wait()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_import_is_cleaned_by_the_next_one(tmp_path: Path, exported: Exported, sleeper: int) -> None:
    zip_path = write_zip(tmp_path / "p.zip", exported[1])
    work = tmp_path / "work"
    work.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_IMPORT, str(zip_path), str(work / "first")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "unpacking\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    (left,) = entries(work)
    assert left.startswith("first.importing-") and not left.startswith(".")  # visible, says what it is
    running = f"other.importing-{HOST_TAG}-{sleeper}-0123abcd"  # an import still at work
    old_stale, old_fresh = ".tmp-lake-import-0123abcd", ".tmp-sea-import-89abcdef"  # older versions' names
    for name in (running, old_stale, old_fresh, ".tmp-not-ours"):
        (work / name).mkdir()
    two_days_ago = time.time() - 2 * 86400
    os.utime(work / old_stale, (two_days_ago, two_days_ago))
    with import_project_zip(zip_path, work / "second") as project:
        assert len(project.nodes()) == 3
    assert entries(work) == sorted([".tmp-not-ours", old_fresh, running, "second"])


def test_stale_write_probes_are_removed_on_open(tmp_path: Path, sleeper: int) -> None:
    folder = tmp_path / "p"
    make_project(folder, 1)
    gone = dead_pid()
    stale = [
        folder / f".write-probe-{gone}-140234",  # the name a SIGKILL left before this fix
        folder / "nodes" / f".write-probe-{HOST_TAG}-{gone}-1",
        folder / "assets" / f".write-probe-{HOST_TAG}-{gone}-2",
    ]
    live = folder / f".write-probe-{HOST_TAG}-{sleeper}-3"  # another process probing right now
    for path in [*stale, live]:
        path.write_bytes(b"")
    with Project.open(folder) as project:
        assert project.report == []
    assert [p.exists() for p in stale] == [False, False, False] and live.exists()


# ---------------------------------------------------------------- 6. readers beside the app
APP = (
    "import sys\nfrom studio.project.store import Project\n"
    "p = Project.open(sys.argv[1])\nprint('ready', flush=True)\nsys.stdin.read()\n"
)


def test_read_only_commands_work_while_the_app_has_the_project_open(tmp_path: Path) -> None:
    nodes = make_project(tmp_path / "p", 3)
    app = subprocess.Popen(
        [sys.executable, "-c", APP, str(tmp_path / "p")],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout is not None and app.stdout.readline() == "ready\n"
        history = studio("history", "p", "--json", cwd=tmp_path)
        assert history.returncode == 0, history.stderr
        assert [n["id"] for n in json.loads(history.stdout)] == [n.id for n in nodes]
        exported = studio("project", "export", "p", "-o", "p.zip", cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
        assert "exported 3 node(s)" in exported.stdout
        with pytest.raises(ProjectLockedError):  # writing still waits for the app
            Project.open(tmp_path / "p")
    finally:
        app.kill()
        app.wait()
    imported = studio("project", "import", "p.zip", "copy", cwd=tmp_path)
    assert imported.returncode == 0 and "imported 3 node(s)" in imported.stdout, imported.stderr
