"""Opening damaged, killed, old, newer and read-only projects: recover what is intact, say what is not."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlite_checks import integrity

from studio.project.journal import CHECK, Journal, record_checksum
from studio.project.node import Node
from studio.project.store import Project, ProjectError
from studio.recipe import Recipe

REPO = Path(__file__).resolve().parents[2]


def png(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, (seed // 256) % 256, 9)).save(buf, "PNG")
    return buf.getvalue()


def recipe(seed: int = 1, prompt: str = "a misty lake") -> Recipe:
    return Recipe(model="landscape", model_version="1.0", seed=seed, prompt=prompt)


def make_project(folder: Path, count: int) -> list[Node]:
    with Project.open(folder) as project:
        nodes: list[Node] = []
        for i in range(count):
            parents = [nodes[-1].id] if nodes else []
            nodes.append(
                project.add_node("generate", recipe(i, f"lake number {i} 🌊"), png(i), parents=parents)
            )
        project.set_starred(nodes[0].id, True)
        project.set_note(nodes[-1].id, "last one")
        return [project.node(n.id) for n in nodes]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


KILL_SCRIPT = """
import io, sys
from PIL import Image
from studio.project.store import Project
from studio.recipe import Recipe
project = Project.open(sys.argv[1])
parent = []
i = 0
while True:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (i % 256, i // 256 % 256, 3)).save(buf, "PNG")
    node = project.add_node("generate", Recipe(model="m", model_version="1", seed=i, prompt=f"step {i}"),
                            buf.getvalue(), parents=parent)
    print(node.id, flush=True)
    if i % 3 == 0:
        project.set_starred(node.id, True)
    parent = [node.id]
    i += 1
"""


def test_killed_app_loses_no_committed_node(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(folder)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    committed: list[str] = []
    try:
        assert child.stdout is not None
        while len(committed) < 25:
            line = child.stdout.readline()
            assert line, "the writer process died on its own"
            committed.append(line.strip())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert integrity(folder / "project.sqlite") == "ok"
    with Project.open(folder) as project:  # no stale lock from the killed process
        ids = {n.id for n in project.nodes()}
        assert set(committed) <= ids
        assert all(project.assets.has(project.node(i).image) for i in committed)
        assert not any("damaged" in line or "missing" in line for line in project.report)
        for node_id in committed[1:]:
            assert project.node(node_id).parent in ids
    assert integrity(folder / "project.sqlite") == "ok"
    leftovers = [p for p in folder.rglob(".tmp-*")]
    assert leftovers == []


def test_migrates_a_hand_made_version_1_database(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    image = png(5)
    sha = hashlib.sha256(image).hexdigest()
    (folder / "assets" / sha[:2]).mkdir(parents=True)
    (folder / "assets" / sha[:2] / f"{sha}.png").write_bytes(image)
    db = folder / "project.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(
        """
        CREATE TABLE nodes (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
            parents TEXT NOT NULL DEFAULT '[]', kind TEXT NOT NULL, recipe TEXT NOT NULL,
            image TEXT NOT NULL, created REAL NOT NULL, starred INTEGER NOT NULL DEFAULT 0,
            note TEXT NOT NULL DEFAULT '');
        CREATE INDEX nodes_created ON nodes(created);
        PRAGMA user_version = 1;
        """
    )
    conn.execute(
        "INSERT INTO nodes (id, parents, kind, recipe, image, created, starred, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ("aaaa000000000001", "[]", "generate", recipe(1).to_json(), sha, 1000.0, 1, "v1 note ✓"),
    )
    conn.execute(
        "INSERT INTO nodes (id, parents, kind, recipe, image, created) VALUES (?,?,?,?,?,?)",
        ("aaaa000000000002", '["aaaa000000000001"]', "variation", recipe(2).to_json(), sha, 1001.0),
    )
    conn.commit()
    conn.close()

    with Project.open(folder) as project:
        assert project.report == []
        first, second = project.nodes()
        assert (first.id, first.starred, first.note) == ("aaaa000000000001", True, "v1 note ✓")
        assert second.parent == first.id
        project.delete_node(second.id)  # needs the column version 2 added
        project.meta_set("current", first.id)
        assert [n.id for n in project.trash()] == [second.id]
        assert (folder / "nodes" / f"{first.id}.json").exists()  # journal written for old nodes
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert "deleted" in {row[1] for row in conn.execute("PRAGMA table_info(nodes)")}
    conn.close()
    backup = sqlite3.connect(folder / "project.sqlite.v1-backup")
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 1
    assert backup.execute("SELECT count(*) FROM nodes").fetchone()[0] == 2
    backup.close()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_database_is_kept_and_rebuilt_from_journal(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 40)
    db = folder / "project.sqlite"
    if damage == "truncated":
        with open(db, "r+b") as fh:
            fh.truncate(db.stat().st_size // 2)
    else:
        db.write_bytes(os.urandom(9000))
    damaged = digest(db)
    with Project.open(folder) as project:
        assert project.nodes() == nodes  # stars, notes, parents and order all back
        assert any("damaged" in line and "rebuilt from the journal" in line for line in project.report)
        assert any("40 nodes were restored" in line for line in project.report)
    kept = [p for p in folder.iterdir() if p.name.startswith("project.sqlite.corrupt-")]
    assert len(kept) == 1 and digest(kept[0]) == damaged  # user data never deleted
    assert integrity(db) == "ok"
    with Project.open(folder) as project:  # the rebuilt database is now the truth
        assert project.report == [] and project.nodes() == nodes


def test_deleted_database_is_rebuilt(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 3)
    (folder / "project.sqlite").unlink()
    with Project.open(folder) as project:
        assert project.nodes() == nodes
        assert project.report == ["The database was missing; 3 nodes were restored from the journal."]


def test_missing_asset_is_reported_and_node_kept(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 4)
    with Project.open(folder) as project:
        project.assets.path(nodes[2].image).unlink()
    with Project.open(folder) as project:
        assert project.nodes() == nodes  # the recipe can re-render it
        assert project.report == [
            f"1 node had missing images: {nodes[2].id}. Their recipes can render them again."
        ]
        assert not project.assets.has(nodes[2].image)
        with pytest.raises(ProjectError, match="missing"):
            project.assets.get(nodes[2].image)


def test_bad_journal_file_is_reported_and_kept(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 3)
    stray = folder / "nodes" / "deadbeef00000000.json"
    stray.write_bytes(b'{"id": "deadbeef00000000", "kind": tru')
    with Project.open(folder) as project:
        assert project.nodes() == nodes
        assert project.report == [
            "1 journal file could not be read and was skipped (damaged files are kept with the ending "
            ".damaged): deadbeef00000000.json (not valid JSON)."
        ]
    assert (folder / "nodes" / "deadbeef00000000.json.damaged").read_bytes().startswith(b'{"id"')
    with Project.open(folder) as project:
        assert project.report == []


def test_rebuild_skips_bad_journal_files(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 5)
    (folder / "project.sqlite").write_bytes(b"\x00" * 4096)
    (folder / "nodes" / f"{nodes[1].id}.json").write_text("[1, 2, 3]")
    (folder / "nodes" / f"{nodes[3].id}.json").write_text(json.dumps({"format": 1, "id": nodes[3].id}))
    with Project.open(folder) as project:
        assert [n.id for n in project.nodes()] == [nodes[0].id, nodes[2].id, nodes[4].id]
        text = " ".join(project.report)
        assert "damaged" in text and "3 nodes were restored" in text
        assert f"{nodes[1].id}.json (not a JSON object)" in text and f"{nodes[3].id}.json (" in text
        assert [n.id for n in project.roots()] == [nodes[0].id, nodes[2].id, nodes[4].id]


def test_node_being_saved_at_a_crash_is_recovered(tmp_path: Path) -> None:
    """The journal and image were durable but the row was not: the node comes back."""
    folder = tmp_path / "p"
    nodes = make_project(folder, 2)
    lost = Node(
        "feed000000000001", (nodes[-1].id,), "variation", recipe(9), nodes[0].image, nodes[-1].created + 1
    )
    Journal(folder / "nodes").write(lost, deleted=False)
    with Project.open(folder) as project:
        assert project.node(lost.id) == lost and project.nodes()[-1] == lost
        assert project.report == [
            "1 node being saved when the app stopped was recovered from the journal: feed000000000001."
        ]
    with Project.open(folder) as project:
        assert project.report == []


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    make_project(folder, 2)
    db = folder / "project.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    before = {p.name: digest(p) for p in folder.iterdir() if p.is_file() and p.name != "project.lock"}
    for _ in range(2):  # the second try must not be refused as locked: the lock was released
        with pytest.raises(ProjectError) as info:
            Project.open(folder)
        message = str(info.value)
        assert "made by a newer version of Synesthesia Studio (schema 7)" in message
        assert "this app understands up to 2" in message
    after = {p.name: digest(p) for p in folder.iterdir() if p.is_file() and p.name != "project.lock"}
    assert after == before


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make a folder tree really read-only. Root ignores chmod, so as root use chattr +i."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a folder read-only")
        done = subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i unsupported here: {done.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)
    else:
        paths = [folder, *folder.rglob("*")]
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p in paths:
                p.chmod(modes[p])


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_read_only_folder_opens_read_only(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 3)
    before = snapshot(folder)
    with read_only(folder):
        with Project.open(folder) as project:
            assert project.readonly is True
            assert project.nodes() == nodes and project.assets.get(nodes[0].image) == png(0)
            assert any("read-only" in line for line in project.report)
            for write in (
                lambda: project.add_node("generate", recipe(), png(), parents=[nodes[0].id]),
                lambda: project.set_starred(nodes[1].id, True),
                lambda: project.set_note(nodes[1].id, "x"),
                lambda: project.delete_node(nodes[1].id),
                lambda: project.restore_node(nodes[1].id),
                lambda: project.meta_set("current", nodes[0].id),
                lambda: project.assets.put(b"data", "bin"),
            ):
                with pytest.raises(ProjectError, match="read-only"):
                    write()
        assert snapshot(folder) == before


def test_read_only_folder_with_damaged_database_shows_the_journal(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 3)
    (folder / "project.sqlite").write_bytes(b"not a database at all" * 10)
    before = snapshot(folder)
    with read_only(folder), Project.open(folder) as project:
        assert project.readonly and project.nodes() == nodes
        assert any("left as it is" in line for line in project.report)
    assert snapshot(folder) == before  # nothing moved aside: it could not be


PERMISSION_SCRIPT = """
import sys
from studio.project.store import Project, ProjectError
try:
    with Project.open(sys.argv[1]) as p:
        try:
            p.set_starred(p.nodes()[0].id, True)
            outcome = "saved"
        except ProjectError as exc:
            outcome = str(exc)
        print("readonly" if p.readonly else "writable", len(p.nodes()), outcome, sep="|")
except ProjectError as exc:
    print("error:", exc)
"""


def run_as_ordinary_user(folder: Path) -> str:
    """Run the app on `folder` with file permissions enforced.

    chmod does not bind root, so as root the child drops the capabilities that bypass file
    permissions (setpriv); it is then held to the mode bits like any user.
    """
    command = [sys.executable, "-c", PERMISSION_SCRIPT, str(folder)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot enforce file permissions")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_chmod_read_only_and_unreadable_folders(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    make_project(folder, 2)
    paths = [folder, *folder.rglob("*")]
    try:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        before = snapshot(folder)
        state, count, outcome = run_as_ordinary_user(folder).split("|")
        assert (state, count) == ("readonly", "2") and "is read-only" in outcome
        assert snapshot(folder) == before
        folder.chmod(0o000)
        out = run_as_ordinary_user(folder)
        assert (
            out.startswith(f"error: cannot read the project folder {folder}") and "Permission denied" in out
        )
    finally:
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_database_held_by_another_program_is_an_error_not_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.project import recovery

    folder = tmp_path / "p"
    nodes = make_project(folder, 2)
    monkeypatch.setattr(recovery, "BUSY_TIMEOUT_S", 0.2)  # fail fast instead of waiting 5 s
    other = sqlite3.connect(folder / "project.sqlite", isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("UPDATE nodes SET note = note")
    try:
        with pytest.raises(ProjectError, match="in use by another program"):
            Project.open(folder)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not [p for p in folder.iterdir() if "corrupt" in p.name]  # a busy file is not moved aside
    with Project.open(folder) as project:
        assert project.report == [] and project.nodes() == nodes


def test_damaged_row_is_restored_from_its_journal(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 3)
    conn = sqlite3.connect(folder / "project.sqlite")
    with conn:
        conn.execute("UPDATE nodes SET recipe = '{\"seed\": tru' WHERE id = ?", (nodes[1].id,))
    conn.close()
    with Project.open(folder) as project:
        assert project.nodes() == nodes
        assert project.report == [
            f"1 node was damaged in the database and restored from the journal: {nodes[1].id}."
        ]
    with Project.open(folder) as project:
        assert project.report == []


def test_node_from_a_newer_version_is_hidden_not_lost(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    nodes = make_project(folder, 2)
    future = json.dumps({**nodes[1].recipe.to_dict(), "version": 99})
    conn = sqlite3.connect(folder / "project.sqlite")
    with conn:
        conn.execute("UPDATE nodes SET recipe = ? WHERE id = ?", (future, nodes[1].id))
    conn.close()
    journal = folder / "nodes" / f"{nodes[1].id}.json"
    newer = {k: v for k, v in json.loads(journal.read_text()).items() if k != CHECK}
    newer["recipe"] = json.loads(future)
    journal.write_text(json.dumps({**newer, CHECK: record_checksum(newer)}))  # as a newer app writes it
    with Project.open(folder) as project:
        assert project.nodes() == nodes[:1]
        text = " ".join(project.report)
        assert f"1 node could not be read from the database and is hidden: {nodes[1].id}" in text
        assert "newer than this app understands" in text
    assert journal.exists()  # intact, just not understood: not renamed as damaged
    conn = sqlite3.connect(folder / "project.sqlite")
    assert conn.execute("SELECT recipe FROM nodes WHERE id = ?", (nodes[1].id,)).fetchone()[0] == future
    conn.close()


def test_missing_sketch_and_sound_inputs_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    with Project.open(folder) as project:
        sketch = project.assets.put(png(77), "png")
        sound = project.assets.put(b"RIFF\x00\x00\x00\x00WAVE", "wav")
        node = project.add_node("sound", recipe(3).replace(sketch=sketch, sound=sound), png(3))
        project.assets.path(sound).unlink()
    with Project.open(folder) as project:
        assert project.node(node.id).recipe.sound == sound
        assert project.report == [f"1 node uses sketch, mask or sound files that are missing: {node.id}."]


def test_deleted_database_with_leftover_wal_is_rebuilt(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    with Project.open(folder) as project:
        nodes = [project.add_node("generate", recipe(i), png(i)) for i in range(3)]
        wal = (folder / "project.sqlite-wal").read_bytes()  # committed pages not yet checkpointed
    (folder / "project.sqlite").unlink()
    (folder / "project.sqlite-wal").write_bytes(wal)
    with Project.open(folder) as project:
        assert project.nodes() == nodes
    orphans = [p for p in folder.iterdir() if p.name.startswith("project.sqlite-wal.orphan-")]
    assert len(orphans) == 1 and orphans[0].read_bytes() == wal
    assert integrity(folder / "project.sqlite") == "ok"
