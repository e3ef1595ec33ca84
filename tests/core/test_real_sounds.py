"""Real recordings from Debian packages: the manifest, the archive readers, `studio sounds fetch`
on real .deb files built here (only the download is skipped: --debs), and the held-out eval."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.audio import containers
from studio.audio.real_set import (
    MANIFEST,
    RESERVED_PACKAGES,
    SPLITS,
    RealSetError,
    download_deb,
    fetch,
    load_manifest,
    training_clips,
)
from studio.world.sounds import KIND_INDEX, synth

RATE = 16000
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

RESERVED = [
    "redeclipse-data",
    "0ad-data",
    "megaglest-data",
    "minetest-data",
    "supertuxkart-data",
    "wesnoth-1.16-data",
    "tuxpaint-stamps-default",
    "tuxpaint-plugins-default",
    "qabcs-data",
    "flare-game",
    "widelands-data",
    "supertux-data",
    "simutrans-pak64",
    "scorched3d-data",
    "gnome-shell-pomodoro-data",
    "flightgear-data-base",
    "csoundqt-examples",
    "btanks-data",
    "berusky2-data",
]


# --------------------------------------------------------------------------- the shipped manifest
def test_reserved_packages_are_exactly_the_outside_evaluation_list() -> None:
    assert RESERVED_PACKAGES == frozenset(RESERVED)


def test_shipped_manifest_is_split_by_package_and_uses_no_reserved_package() -> None:
    real = load_manifest()
    assert not set(real.packages) & RESERVED_PACKAGES
    assert not {c.package for c in real.clips} & RESERVED_PACKAGES
    sides = {split: {c.package for c in real.in_split(split)} for split in SPLITS}
    assert sides["train"] and sides["heldout"] and not sides["train"] & sides["heldout"]
    for clip in real.clips:  # each clip sits on its package's side
        assert clip.split == real.packages[clip.package].split
    kinds = {c.kind for c in real.clips}
    assert len(kinds) >= 10 and kinds <= set(KIND_INDEX)
    assert len(real.in_split("heldout")) >= 60
    # one source file never appears in both splits, nor the same file bytes under two packages
    by_hash: dict[str, set[str]] = {}
    for clip in real.clips:
        by_hash.setdefault(clip.sha256, set()).add(clip.split)
    assert all(len(s) == 1 for s in by_hash.values())


def test_sources_md_lists_every_package_version_and_file() -> None:
    real = load_manifest()
    text = (MANIFEST.parent / "SOURCES.md").read_text(encoding="utf-8")
    for package in real.packages.values():
        assert f"`{package.name}` | {package.version} |" in text
    for clip in real.clips:
        assert f"`{clip.path}`" in text


def _manifest(tmp_path: Path, packages: dict, clips: list[dict]) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"packages": packages, "clips": clips}))
    return path


PKG = {"version": "1.0-1", "split": "train", "licence": "CC0", "evidence": ["License: CC0-1.0"]}
CLIP = {"package": "x-sounds", "path": "a.wav", "sha256": "0" * 64, "kind": "rain", "seconds": 1.0}


@pytest.mark.parametrize("name", ["0ad-data", "wesnoth-1.16-data", "tuxpaint-stamps-default"])
def test_a_manifest_naming_a_reserved_package_is_refused(tmp_path: Path, name: str) -> None:
    path = _manifest(tmp_path, {name: PKG}, [dict(CLIP, package=name)])
    with pytest.raises(RealSetError, match="reserved for an outside evaluation"):
        load_manifest(path)


def test_reserved_packages_are_never_downloaded_or_fetched(tmp_path: Path) -> None:
    from studio.audio.real_set import Package

    with pytest.raises(RealSetError, match="reserved"):
        download_deb(Package("supertux-data", "1", "train", "GPL", ("GPL",)), tmp_path, apt_get="true")
    with pytest.raises(RealSetError, match="reserved"):
        fetch(tmp_path / "out", cache=tmp_path, packages=["btanks-data"], apt_get="true")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "lava"}, "unknown sound kind"),
        ({"seconds": 12.0}, "out of range"),
        ({"sha256": "xyz"}, "sha256"),
        ({"package": "other"}, "missing key"),
    ],
)
def test_malformed_manifest_entries_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    path = _manifest(tmp_path, {"x-sounds": PKG}, [dict(CLIP, **change)])
    with pytest.raises(RealSetError, match=message):
        load_manifest(path)


def test_two_clips_writing_one_file_are_refused(tmp_path: Path) -> None:
    path = _manifest(tmp_path, {"x-sounds": PKG}, [CLIP, dict(CLIP, path="sub/a.ogg")])
    with pytest.raises(RealSetError, match="both be written"):
        load_manifest(path)


# --------------------------------------------------------------------------- archive readers
def _c4group(members: dict[str, bytes]) -> bytes:
    """A packed C4Group as OpenClonk writes it (scrambled header, gzip magic 1E 8C)."""
    header = bytearray(204)
    header[:24] = b"RedWolf Design GrpFolder"
    struct.pack_into("<iii", header, 28, 1, 2, len(members))
    for i in range(len(header)):  # MemScramble: XOR 237, then swap bytes 0 and 2 of each triple
        header[i] ^= 237
    for i in range(0, len(header) - 2, 3):
        header[i], header[i + 2] = header[i + 2], header[i]
    cores, offset = b"", 0
    for name, blob in members.items():
        core = bytearray(316)
        core[: len(name)] = name.encode()
        struct.pack_into("<iiiii", core, 260, 0, 0, len(blob), 0, offset)
        cores += bytes(core)
        offset += len(blob)
    packed = gzip.compress(bytes(header) + cores + b"".join(members.values()))
    return b"\x1e\x8c" + packed[2:]


def _rcc(path: str, blob: bytes) -> bytes:
    """A compiled Qt resource (format 2) holding one zlib-compressed file at `path`."""
    parts = path.split("/")
    names, offsets = b"", []
    for part in parts:
        offsets.append(len(names))
        names += struct.pack(">HI", len(part), 0) + part.encode("utf-16-be")
    tree = struct.pack(">IHII", 0, 2, 1, 1) + b"\0" * 8  # root: a folder with one child at node 1
    for i, _part in enumerate(parts[:-1]):
        tree += struct.pack(">IHII", offsets[i], 2, 1, i + 2) + b"\0" * 8
    tree += struct.pack(">IHHHI", offsets[-1], 1, 0, 0, 0) + b"\0" * 8
    packed = struct.pack(">I", len(blob)) + zlib.compress(blob)
    data = struct.pack(">I", len(packed)) + packed
    tree_at = 20
    data_at = tree_at + len(tree)
    names_at = data_at + len(data)
    return b"qres" + struct.pack(">IIII", 2, tree_at, data_at, names_at) + tree + data + names


def _cat(entries: list[tuple[str, bytes]]) -> bytes:
    bodies = [bytes([len(name) + 1]) + name.encode() + b"\0" + blob for name, blob in entries]
    table, at = b"", 8 * len(entries)
    for body in bodies:
        table += struct.pack("<II", at, len(body))
        at += len(body)
    return table + b"".join(bodies)


def test_archive_readers_find_members(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "g").mkdir(parents=True)
    (root / "g" / "plain.ogg").write_bytes(b"OggS-plain")
    with zipfile.ZipFile(root / "g" / "data.pk3", "w") as archive:
        archive.writestr("sound/wind.wav", b"RIFF-wind")
    (root / "g" / "Sound.ocg").write_bytes(_c4group({"Rain.ogg": b"OggS-rain", "Fire.ogg": b"OggS-fire"}))
    (root / "g" / "res.rcc").write_bytes(_rcc("app/sounds/owl.ogg", b"OggS-owl" * 50))
    (root / "g" / "sfx.cat").write_bytes(_cat([("Wind. CC0", b"RIFF-0"), ("Bird. CC0", b"RIFF-1")]))
    (root / "g" / "Music.ocg").mkdir()  # an unpacked group is a folder
    (root / "g" / "Music.ocg" / "Song.ogg").write_bytes(b"OggS-song")
    read = containers.read_path
    assert read(root, "g/plain.ogg") == b"OggS-plain"
    assert read(root, "g/data.pk3!sound/wind.wav") == b"RIFF-wind"
    assert read(root, "g/Sound.ocg!Fire.ogg") == b"OggS-fire"
    assert read(root, "g/res.rcc!app/sounds/owl.ogg") == b"OggS-owl" * 50
    assert read(root, "g/sfx.cat!1") == b"RIFF-1"
    assert read(root, "g/Music.ocg!Song.ogg") == b"OggS-song"
    assert containers.list_members(root / "g" / "Sound.ocg") == ["Rain.ogg", "Fire.ogg"]
    for bad in ("g/data.pk3!nope.wav", "g/Sound.ocg!Nope.ogg", "g/res.rcc!x", "g/sfx.cat!7", "../etc/passwd"):
        with pytest.raises(containers.ContainerError):
            read(root, bad)
    (root / "g" / "broken.ocg").write_bytes(b"\x1e\x8cnot gzip at all")
    with pytest.raises(containers.ContainerError):
        read(root, "g/broken.ocg!a.ogg")


# --------------------------------------------------------------------------- fetch on real .debs
def _ogg(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="OGG", subtype="VORBIS")
    return buffer.getvalue()


def _wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _build_deb(tmp_path: Path, name: str, version: str, files: dict[str, bytes], licence: str) -> Path:
    root = tmp_path / f"build-{name}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Test <t@example.org>\n"
        f"Description: test sounds\n test package built by the test suite\n"
    )
    doc = root / "usr" / "share" / "doc" / name
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(f"Files: *\nCopyright: 2024 Test\n{licence}\n")
    for rel, blob in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(blob)
    debs = tmp_path / "debs"
    debs.mkdir(exist_ok=True)
    deb = debs / f"{name}_{version}_all.deb"
    subprocess.run(
        ["dpkg-deb", "-Zgzip", "--root-owner-group", "--build", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


def _clip(package: str, path: str, sha: str, kind: str, offset: float, seconds: float) -> dict:
    return {
        "package": package,
        "path": path,
        "sha256": sha,
        "kind": kind,
        "offset": offset,
        "seconds": seconds,
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two real .deb packages (train and held-out), a manifest for them, and the fetched set."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb")
    tmp = tmp_path_factory.mktemp("realdebs")
    rng = np.random.default_rng(7)
    rain = synth("rain", rng, seconds=2.0)
    wind = synth("wind", rng, seconds=12.0, rate=22050)
    owl = synth("owl", rng, seconds=3.0)
    rain_ogg = _ogg(rain, RATE)
    wind_wav = _wav(np.stack([wind, wind * 0.5], axis=1), 22050)  # stereo, another rate
    pk3 = io.BytesIO()
    with zipfile.ZipFile(pk3, "w") as archive:
        archive.writestr("sound/wind.wav", wind_wav)
    owl_wav = _wav(owl, RATE)
    _build_deb(
        tmp,
        "test-sounds",
        "1.0-1",
        {"usr/share/games/t/rain.ogg": rain_ogg, "usr/share/games/t/data.pk3": pk3.getvalue()},
        "License: CC0-1.0",
    )
    _build_deb(tmp, "test-heldout", "2:0.5-3", {"usr/share/t/owl.wav": owl_wav}, "License: GPL-2+")
    sha = {name: hashlib.sha256(blob).hexdigest() for name, blob in (("rain", rain_ogg), ("wind", wind_wav))}
    packages = {
        "test-sounds": {
            "version": "1.0-1",
            "split": "train",
            "licence": "CC0",
            "evidence": ["License: CC0-1.0"],
        },
        "test-heldout": {"version": "2:0.5-3", "split": "heldout", "licence": "GPL", "evidence": ["GPL-2+"]},
    }
    wind_path = "usr/share/games/t/data.pk3!sound/wind.wav"
    clips = [
        _clip("test-sounds", "usr/share/games/t/rain.ogg", sha["rain"], "rain", 0.0, 2.0),
        _clip("test-sounds", wind_path, sha["wind"], "wind", 0.0, 5.0),
        _clip("test-sounds", wind_path, sha["wind"], "wind", 5.0, 5.0),
        _clip("test-heldout", "usr/share/t/owl.wav", hashlib.sha256(owl_wav).hexdigest(), "owl", 0.0, 3.0),
    ]
    manifest = _manifest(tmp, packages, clips)
    out = tmp / "set"
    lines: list[str] = []
    counts = fetch(
        out, cache=tmp / "cache", debs=tmp / "debs", manifest=manifest, apt_get="/nonexistent/apt-get",
        report=lines.append,
    )  # fmt: skip
    return {"tmp": tmp, "manifest": manifest, "out": out, "counts": counts, "lines": lines}


def test_fetch_converts_and_verifies_clips_from_real_debs(built: dict) -> None:
    out = built["out"]
    assert built["counts"]["train"] == {"rain": 1, "wind": 2} and built["counts"]["heldout"] == {"owl": 1}
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav"))
    assert files == [
        "heldout/owl/test-heldout__owl.wav",
        "train/rain/test-sounds__rain.wav",
        "train/wind/test-sounds__wind.wav",
        "train/wind/test-sounds__wind_005000ms.wav",
    ]
    for rel, seconds in (
        ("train/rain/test-sounds__rain.wav", 2.0),
        ("train/wind/test-sounds__wind.wav", 5.0),
    ):
        data, rate = sf.read(out / rel, dtype="float32")
        assert rate == RATE and data.ndim == 1 and abs(len(data) / RATE - seconds) < 0.02
        assert np.all(np.isfinite(data)) and abs(float(np.max(np.abs(data))) - 0.9) < 0.01
    index = json.loads((out / "clips.json").read_text())
    assert {c["file"] for c in index["clips"]} == set(files)
    assert not (built["tmp"] / "cache").exists() or not any((built["tmp"] / "cache").iterdir())


def test_the_two_windows_are_different_parts_of_the_file(built: dict) -> None:
    first, _ = sf.read(built["out"] / "train/wind/test-sounds__wind.wav", dtype="float32")
    second, _ = sf.read(built["out"] / "train/wind/test-sounds__wind_005000ms.wav", dtype="float32")
    assert abs(float(np.corrcoef(first, second)[0, 1])) < 0.5


@needs_dpkg
def test_fetch_refuses_changed_files_missing_licences_and_missing_apt(built: dict, tmp_path: Path) -> None:
    data = json.loads(built["manifest"].read_text())
    changed = json.loads(json.dumps(data))
    changed["clips"][0]["sha256"] = "f" * 64
    with pytest.raises(RealSetError, match="changed"):
        fetch(tmp_path / "a", debs=built["tmp"] / "debs", manifest=_manifest(tmp_path, **_split(changed)))
    unlicensed = json.loads(json.dumps(data))
    unlicensed["packages"]["test-sounds"]["evidence"] = ["License: MIT"]
    with pytest.raises(RealSetError, match="copyright file no longer says"):
        fetch(tmp_path / "b", debs=built["tmp"] / "debs", manifest=_manifest(tmp_path, **_split(unlicensed)))
    moved = json.loads(json.dumps(data))
    moved["packages"]["test-sounds"]["version"] = "9.9-9"  # the .deb in --debs is another version
    with pytest.raises(RealSetError, match="apt-get is not available"):
        fetch(
            tmp_path / "c",
            cache=tmp_path / "cache",
            debs=built["tmp"] / "debs",
            manifest=_manifest(tmp_path, **_split(moved)),
            apt_get="/nonexistent/apt-get",
        )


def _split(data: dict) -> dict:
    return {"packages": data["packages"], "clips": data["clips"]}


@needs_dpkg
def test_cli_fetch_prints_counts_per_kind_and_split(built: dict, tmp_path: Path, capsys) -> None:
    from studio.cli import main

    out = tmp_path / "cli-set"
    args = ["sounds", "fetch", "--out", str(out), "--debs", str(built["tmp"] / "debs")]
    assert main([*args, "--manifest", str(built["manifest"]), "--package", "test-heldout"]) == 0
    printed = capsys.readouterr().out
    assert "owl" in printed and "heldout" in printed and (out / "heldout/owl/test-heldout__owl.wav").is_file()
    assert main(["sounds", "fetch", "--out", str(out), "--package", "0ad-data"]) == 2
    assert "reserved" in capsys.readouterr().err
    assert main(["sounds", "list"]) == 0
    assert "heldout" in capsys.readouterr().out


# --------------------------------------------------------------------------- eval and training read the set
def test_eval_reads_the_heldout_layout_and_skips_an_absent_folder(built: dict, tmp_path: Path) -> None:
    from studio.eval.sound import heldout_real_metrics, heldout_recordings, listen_labels

    found = heldout_recordings(built["out"] / "heldout")
    assert [(p.name, kinds) for p, kinds in found] == [("test-heldout__owl.wav", ("owl",))]
    labels = listen_labels()
    centres = np.eye(len(labels), dtype=np.float32)
    owl = centres[[label["name"] for label in labels].index("owl")]
    metrics = heldout_real_metrics(lambda samples: owl, labels, centres, built["out"] / "heldout")
    assert metrics == {
        "listen_top1_real_heldout": 1.0,
        "listen_top1_real_heldout_balanced": 1.0,
        "real_heldout_clips": 1,
        "real_heldout_kinds": 1,
        "real_heldout_by_kind": {"owl": "1/1"},
    }
    assert heldout_real_metrics(lambda samples: owl, labels, centres, tmp_path / "absent") == {}


def test_training_reads_only_the_train_split(built: dict, tmp_path: Path) -> None:
    found = training_clips(built["out"])
    assert sorted(kind for _, kind in found) == ["rain", "wind", "wind"]
    assert all("/train/" in p.as_posix() for p, _ in found)
    with pytest.raises(RealSetError, match="not .*heldout"):
        training_clips(built["out"] / "heldout")
    leaky = tmp_path / "leaky"
    shutil.copytree(built["out"], leaky)
    held_package = load_manifest().packages_in("heldout")[0]
    shutil.copy(leaky / "train/rain/test-sounds__rain.wav", leaky / f"train/rain/{held_package}__x.wav")
    with pytest.raises(RealSetError, match="held-out or reserved"):
        training_clips(leaky)


def test_config_default_real_dir_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from studio.training.sound_encoder import real_folder

    monkeypatch.setenv("SYNESTHESIA_REAL_SOUNDS", str(tmp_path / "set"))
    assert real_folder("default") == tmp_path / "set"
    assert real_folder(str(tmp_path / "other")) == tmp_path / "other"


def _fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic unit vectors per caption (the shipped text encoder is not needed here)."""
    out = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).standard_normal(384)
        out.append(v / np.linalg.norm(v))
    return np.stack(out).astype(np.float32)


def test_sound_bank_mixes_real_train_clips_with_augmentation(built: dict, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import torch

    from studio.training.sound_encoder import SoundBank, SoundConfig, train_sound_encoder

    torch.set_num_threads(1)
    cfg = SoundConfig(
        bank_size=6, batch=16, clip_seconds=2.5, window_seconds=1.0, real_dir=str(built["out"]),
        real_share=1.0, mix_share=0.0, augment=0.5,
    )  # fmt: skip
    bank = SoundBank(cfg, _fake_embed)
    assert sorted(bank.real_by_kind) == ["rain", "wind"] and len(bank.real) == 3
    waves, text, kinds = bank.batch()
    assert waves.shape == (16, RATE) and text.shape == (16, 384)
    assert set(kinds) <= {("rain",), ("wind",)} and len(set(kinds)) == 2  # kinds drawn uniformly
    assert torch.isfinite(waves).all() and float(waves.abs().max()) <= 1.0
    again = SoundBank(cfg, _fake_embed).batch()[0]
    assert torch.equal(waves, again)  # seeded: the same config gives the same batches
    cfg.real_share, cfg.mix_share, cfg.steps, cfg.batch = 0.5, 0.3, 2, 8
    result = train_sound_encoder(cfg, tmp_path / "run", _fake_embed)
    assert result["steps"] == 2 and np.isfinite(result["metrics"]["loss"])


def test_sound_bank_without_real_sounds_is_unchanged() -> None:
    """No real_dir and no augment: synthetic rows only, as before."""
    pytest.importorskip("torch")
    from studio.training.sound_encoder import SoundBank, SoundConfig

    cfg = SoundConfig(bank_size=6, batch=8, clip_seconds=2.5, window_seconds=1.0, mix_share=0.5)
    bank = SoundBank(cfg, _fake_embed)
    assert bank.real == []
    waves, _, kinds = bank.batch()
    assert waves.shape == (8, RATE) and all(k in bank.kinds or len(k) == 2 for k in kinds)


def test_eval_table_names_the_heldout_real_number_beside_the_eight_files() -> None:
    pytest.importorskip("torch")
    from studio.eval.run import format_table

    listen = {
        "listen_top1_synthetic_heldout": 0.9,
        "listen_chance": 0.067,
        "listen_top1_real_recordings": 0.25,
        "real_recordings": 8,
    }
    result = {"diversity_pixel_std": 0.1, "listen": listen}
    assert "held-out real packages" not in format_table(result)
    listen.update(
        listen_top1_real_heldout=0.3,
        listen_top1_real_heldout_balanced=0.4,
        real_heldout_clips=71,
        real_heldout_kinds=9,
        real_heldout_by_kind={"crickets": "1/14", "wind": "13/20"},
    )
    table = format_table(result)
    assert "real recordings 0.25 (8 files)" in table
    assert "held-out real packages (71 clips, 9 kinds): top-1 0.30, balanced over kinds 0.40" in table
    assert "  crickets 1/14, wind 13/20" in table


def test_near_duplicates_finds_one_recording_shipped_twice(tmp_path: Path) -> None:
    from studio.audio.real_set import near_duplicates

    rng = np.random.default_rng(11)
    fire, rain, owl = (synth(kind, rng, seconds=3.0) for kind in ("crackling_fire", "rain", "owl"))
    copy = np.concatenate([np.zeros(800, np.float32), fire[:-800] * 0.3])  # quieter, 50 ms later
    paths = {}
    for name, wave in (("fire", fire), ("copy", copy), ("rain", rain), ("owl", owl)):
        paths[name] = tmp_path / f"{name}.wav"
        sf.write(paths[name], wave, RATE, subtype="PCM_16")
    found = near_duplicates([paths["copy"], paths["owl"]], [paths["fire"], paths["rain"]])
    assert [(a.name, b.name) for a, b, _ in found] == [("copy.wav", "fire.wav")]


def test_decode_falls_back_to_ffmpeg_for_what_soundfile_cannot_read(tmp_path: Path) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    from studio.audio.real_set import decode

    wav = tmp_path / "owl.wav"
    sf.write(wav, synth("owl", np.random.default_rng(1), seconds=1.0), RATE, subtype="PCM_16")
    m4a = tmp_path / "owl.m4a"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)],
        check=True,
        capture_output=True,
    )
    frames, rate = decode(m4a.read_bytes(), "owl.m4a")
    assert rate == RATE and frames.shape[1] == 1 and 0.9 < len(frames) / RATE < 1.2
    assert float(np.max(np.abs(frames))) > 0.1
    with pytest.raises(RealSetError, match="cannot decode"):
        decode(b"not audio at all", "junk.bin")
