"""The project store on real SQLite files: round trips, locking, validation, threads, scale."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from studio.project.node import Node
from studio.project.schema import SCHEMA_VERSION
from studio.project.store import NodeNotFoundError, Project, ProjectError, ProjectLockedError
from studio.recipe import Recipe

REPO = Path(__file__).resolve().parents[2]


def png(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, (seed // 256) % 256, 7)).save(buf, "PNG")
    return buf.getvalue()


def recipe(seed: int = 1, prompt: str = "a misty lake", **kw: object) -> Recipe:
    return Recipe(model="landscape", model_version="1.0", seed=seed, prompt=prompt, **kw)


def test_round_trip_create_add_reopen(tmp_path: Path) -> None:
    folder = tmp_path / "My Lake"
    with Project.open(folder) as project:
        assert project.report == [] and project.readonly is False
        assert project.name == "My Lake" and project.path == folder
        root = project.add_node(kind="generate", recipe=recipe(1), image_png=png(1))
        child = project.add_node(kind="variation", recipe=recipe(2), image_png=png(2), parents=[root.id])
        merged = project.add_node(
            "sketch", recipe(3, latent=[0.5, -1.0]), png(3), parents=[child.id, root.id]
        )
        project.set_starred(child.id, True)
        project.set_note(root.id, "first try")
        project.meta_set("current", merged.id)
        project.meta_set("layout", {"panels": [1, 2], "zoom": 1.5})
        before = project.nodes()
    assert [n.id for n in before] == [root.id, child.id, merged.id]
    with Project.open(folder, create=False) as project:
        assert project.report == []
        assert project.nodes() == [before[0], before[1], before[2]]
        assert project.node(child.id).starred is True
        assert project.node(root.id).note == "first try"
        assert project.node(merged.id).parents == (child.id, root.id)
        assert project.node(merged.id).parent == child.id and project.node(root.id).parent is None
        assert project.node(merged.id).recipe.latent == (0.5, -1.0)
        assert [n.id for n in project.children(root.id)] == [child.id, merged.id]
        assert [n.id for n in project.roots()] == [root.id]
        assert project.meta_get("current") == merged.id
        assert project.meta_get("layout") == {"panels": [1, 2], "zoom": 1.5}
        assert project.meta_get("missing", 42) == 42
        assert project.assets.get(project.node(root.id).image) == png(1)
        assert project.assets.path(project.node(root.id).image).suffix == ".png"


def test_node_is_a_frozen_record(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p") as project:
        node = project.add_node("generate", recipe(), png())
        assert isinstance(node, Node) and len(node.id) == 16
        with pytest.raises(AttributeError):
            node.note = "x"  # type: ignore[misc]


def test_database_is_wal_with_current_schema(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p") as project:
        project.add_node("generate", recipe(), png())
        conn = sqlite3.connect(tmp_path / "p" / "project.sqlite")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        conn.close()


def test_every_node_has_a_journal_file_that_follows_updates(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p") as project:
        node = project.add_node("generate", recipe(), png())
        journal = tmp_path / "p" / "nodes" / f"{node.id}.json"
        assert json.loads(journal.read_text("utf-8"))["starred"] is False
        project.set_starred(node.id, True)
        project.set_note(node.id, "kept")
        project.delete_node(node.id)
        data = json.loads(journal.read_text("utf-8"))
        assert (data["starred"], data["note"], data["deleted"]) == (True, "kept", True)
        assert not [p for p in journal.parent.iterdir() if p.name.startswith(".tmp-")]


def test_trash_delete_and_restore(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p") as project:
        root = project.add_node("generate", recipe(1), png(1))
        child = project.add_node("variation", recipe(2), png(2), parents=root.id)
        project.delete_node(root.id)
        assert [n.id for n in project.nodes()] == [child.id]
        assert [n.id for n in project.trash()] == [root.id]
        assert [n.id for n in project.roots()] == [child.id]  # orphans stay reachable in the tree
        assert project.node(root.id) == root  # still readable for the trash view
        with pytest.raises(ProjectError, match="trash"):
            project.add_node("variation", recipe(3), png(3), parents=[root.id])
    with Project.open(tmp_path / "p") as project:
        assert [n.id for n in project.trash()] == [root.id]
        project.restore_node(root.id)
        assert project.trash() == [] and [n.id for n in project.roots()] == [root.id]
        assert [n.id for n in project.children(root.id)] == [child.id]


def test_unicode_and_control_characters_round_trip(tmp_path: Path) -> None:
    note = "rain 🌧️ on the lake\x00\x07\ttab\nnew line \u202e rtl 山"
    prompt = "a misty lake 🏔️ under snowy mountains 山 at dawn"
    extra = {"title": "ctrl\x01\x1f🌄", "emoji": "👩‍🎨"}
    with Project.open(tmp_path / "p") as project:
        node = project.add_node("generate", recipe(prompt=prompt, extra=extra), png())
        project.set_note(node.id, note)
        with pytest.raises(ProjectError, match="cannot be saved"):
            project.set_note(node.id, "lone surrogate \ud800")
        assert project.node(node.id).note == note
    with Project.open(tmp_path / "p") as project:
        loaded = project.node(node.id)
        assert loaded.note == note
        assert loaded.recipe.prompt == prompt and loaded.recipe.extra == extra
    # the journal alone carries the same text: rebuild from it
    (tmp_path / "p" / "project.sqlite").unlink()
    (tmp_path / "p" / "project.sqlite-wal").unlink(missing_ok=True)
    with Project.open(tmp_path / "p") as project:
        assert project.node(node.id).note == note and project.node(node.id).recipe.extra == extra


def test_second_open_in_same_process_is_locked(tmp_path: Path) -> None:
    import os

    project = Project.open(tmp_path / "p")
    with pytest.raises(ProjectLockedError, match=str(os.getpid())) as info:
        Project.open(tmp_path / "p")
    assert info.value.pid == os.getpid()
    project.close()
    project.close()  # idempotent
    with Project.open(tmp_path / "p") as again:  # released on close
        assert again.nodes() == []
    with pytest.raises(ProjectError, match="closed"):
        project.add_node("generate", recipe(), png())


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    Project.open(folder).close()
    code = (
        "import sys\nfrom studio.project.store import Project\n"
        "p = Project.open(sys.argv[1])\nprint('ready', flush=True)\nsys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        with pytest.raises(ProjectLockedError) as info:
            Project.open(folder)
        assert info.value.pid == child.pid
        assert f"process {child.pid}" in str(info.value) and "already open" in str(info.value)
        with Project.open(folder, readonly=True) as viewer:  # reading needs no lock
            assert viewer.readonly and viewer.report == []
    finally:
        child.kill()
        child.wait()
    with Project.open(folder) as project:  # the OS freed the dead process's lock
        assert project.report == []


def test_read_only_viewers_share(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p") as project:
        node = project.add_node("generate", recipe(), png())
    with (
        Project.open(tmp_path / "p", readonly=True) as one,
        Project.open(tmp_path / "p", readonly=True) as two,
    ):
        assert one.readonly and two.readonly and one.node(node.id) == two.node(node.id)
        with pytest.raises(ProjectError, match="read-only"):
            one.set_starred(node.id, True)
        with Project.open(tmp_path / "p") as writer:  # viewers read copies: the writer may open
            writer.set_starred(node.id, True)
        assert not one.node(node.id).starred  # a viewer shows what it read


def test_bad_input_gives_clear_errors(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p") as project:
        with pytest.raises(ProjectError, match="parent node 'nope' does not exist"):
            project.add_node("generate", recipe(), png(), parents=["nope"])
        with pytest.raises(ProjectError, match="PNG"):
            project.add_node("generate", recipe(), b"GIF89a....")
        with pytest.raises(ProjectError, match="kind"):
            project.add_node("", recipe(), png())
        with pytest.raises(ProjectError, match="Recipe"):
            project.add_node("generate", {"model": "x"}, png())  # type: ignore[arg-type]
        with pytest.raises(ProjectError, match="sketch"):
            project.add_node("sketch", recipe(sketch="ab" * 32), png())
        with pytest.raises(NodeNotFoundError, match="no node 'missing'"):
            project.node("missing")
        with pytest.raises(KeyError):
            project.set_starred("missing", True)
        with pytest.raises(ProjectError, match="JSON"):
            project.meta_set("k", {1, 2})
        with pytest.raises(ProjectError, match="at most"):
            project.set_note(project.add_node("generate", recipe(), png()).id, "x" * 100_001)
        with pytest.raises(ProjectError, match="not an asset id"):
            project.assets.path("../../etc/passwd")
        with pytest.raises(ProjectError, match="extension"):
            project.assets.put(b"x", "../png")
        assert len(project.nodes()) == 1  # nothing half-added
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("mine")
    with pytest.raises(ProjectError, match="not a Synesthesia Studio project"):
        Project.open(tmp_path / "docs")
    with pytest.raises(ProjectError, match="no project"):
        Project.open(tmp_path / "absent", create=False)
    with pytest.raises(ProjectError, match="is a file"):
        Project.open(tmp_path / "docs" / "thesis.txt")


def test_open_accepts_the_database_file_path(tmp_path: Path) -> None:
    Project.open(tmp_path / "p").close()
    with Project.open(tmp_path / "p" / "project.sqlite") as project:
        assert project.path == tmp_path / "p"


def test_assets_are_content_addressed_and_checked(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p") as project:
        data = b"RIFF....WAVEfmt "
        sha = project.assets.put(data, ".WAV")
        assert sha == hashlib.sha256(data).hexdigest()
        assert project.assets.put(data, "wav") == sha  # idempotent
        path = project.assets.path(sha)
        assert path == tmp_path / "p" / "assets" / sha[:2] / f"{sha}.wav"
        assert project.assets.has(sha) and project.assets.get(sha) == data
        path.write_bytes(b"damaged!")
        with pytest.raises(ProjectError, match="damaged"):
            project.assets.get(sha)
        assert project.assets.put(data, "wav") == sha  # a put repairs the damaged copy
        assert project.assets.get(sha) == data


def test_worker_thread_adds_while_ui_thread_reads(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with Project.open(tmp_path / "p") as project:
        first = project.add_node("generate", recipe(0), png(0))

        def worker() -> None:
            try:
                parent = first.id
                for i in range(1, 25):
                    parent = project.add_node("variation", recipe(i), png(i), parents=[parent]).id
            except BaseException as exc:  # noqa: BLE001 - reported to the main thread
                errors.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        seen = 0
        while thread.is_alive():
            nodes = project.nodes()
            assert [n.created for n in nodes] == sorted(n.created for n in nodes)
            seen = max(seen, len(nodes))
            project.meta_set("current", nodes[-1].id)
        thread.join()
        assert errors == [] and len(project.nodes()) == 25
    with Project.open(tmp_path / "p") as project:
        assert len(project.nodes()) == 25 and project.meta_get("current") in project


@pytest.mark.slow
def test_ten_thousand_nodes_load(tmp_path: Path) -> None:
    """10,000 nodes written directly in the store's formats (10,000 fsyncs would take minutes)."""
    folder = tmp_path / "big"
    with Project.open(folder) as project:
        root = project.add_node("generate", recipe(0), png(0))
    rows = []
    parent = root.id
    for i in range(1, 10_000):
        node_id = f"n{i:015d}"
        recipe_data = {"model": "landscape", "model_version": "1.0", "seed": i, "prompt": f"step {i}"}
        entry = {
            **{"format": 1, "id": node_id, "parents": [parent], "kind": "variation", "recipe": recipe_data},
            **{
                "image": root.image,
                "created": root.created + i,
                "starred": False,
                "note": "",
                "deleted": False,
            },
        }
        (folder / "nodes" / f"{node_id}.json").write_text(json.dumps(entry), encoding="utf-8")
        rows.append(
            (
                node_id,
                json.dumps([parent]),
                "variation",
                json.dumps(recipe_data),
                root.image,
                root.created + i,
            )
        )
        parent = node_id if i % 10 else root.id
    conn = sqlite3.connect(folder / "project.sqlite")
    with conn:
        conn.executemany(
            "INSERT INTO nodes (id, parents, kind, recipe, image, created) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
    conn.close()
    with Project.open(folder) as project:
        assert project.report == []
        nodes = project.nodes()
        assert len(nodes) == 10_000 and nodes[0].id == root.id and nodes[-1].id == "n000000000009999"
        assert len(project.children(root.id)) == 1000
        assert project.node("n000000000004321").recipe.prompt == "step 4321"
        assert len(project.roots()) == 1


def test_several_meta_values_are_saved_together_or_not_at_all(tmp_path: Path) -> None:
    with Project.open(tmp_path / "p") as project:
        project.meta_set_many({"paint.sketch": "a" * 64, "paint.canvas": "t1"})
        with pytest.raises(ProjectError, match="cannot be saved as JSON"):
            project.meta_set_many({"paint.sketch": "b" * 64, "paint.canvas": float("nan")})
        assert (project.meta_get("paint.sketch"), project.meta_get("paint.canvas")) == ("a" * 64, "t1")
    with Project.open(tmp_path / "p") as again:
        assert again.meta_get("paint.canvas") == "t1"
