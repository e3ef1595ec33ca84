"""Real environmental recordings from Debian packages: the manifest and `studio sounds fetch`.

The sound encoder learned from synthesised sounds only and mishears real ones. Free game and
education packages ship real recordings (rain, thunder, wind, fire, birds, …); the manifest
(`real_sounds/manifest.json` beside this module, readable copy in `real_sounds/SOURCES.md`)
lists every clip taken from them: package and version, the path inside the package (`!`
steps into an archive, see `studio.audio.containers`), the sha256 of that file, the sound
kind (`studio.world.sounds.SOUND_KINDS`), the window cut from it, licence and credit, and the
split. The split is by package — no package, and no recording found in two packages, is on
both sides — so `heldout` measures how the encoder hears recordings from sources it never
trained on.

`fetch` rebuilds the set from the archive: `apt-get download` of the pinned versions (or .deb
files already in a folder), `dpkg-deb -x`, a licence check against each package's
`/usr/share/doc/PKG/copyright`, decoding (soundfile; the bundled ffmpeg as a fallback), mono
16 kHz, the listed window, peak-normalised to 0.9, written as 16-bit WAV to
`OUT/SPLIT/KIND/PACKAGE__NAME[_OFFSETms].wav`, then every file is read back and checked.

Packages reserved for an outside evaluation are never downloaded, read or listed
(`RESERVED_PACKAGES`; the manifest loader refuses them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MANIFEST = Path(__file__).resolve().with_name("real_sounds") / "manifest.json"
SPLITS = ("train", "heldout")
RATE = 16000
PEAK = 0.9  # every clip is peak-normalised to this (training re-gains anyway)
MAX_CLIP_SECONDS = 10.0
MIN_CLIP_SECONDS = 0.25
LENGTH_TOLERANCE_S = 0.02  # resampling rounds lengths by a few samples

# Reserved for an outside evaluation: never used, downloaded for training, or listed.
RESERVED_PACKAGES: frozenset[str] = frozenset(
    {
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
    }
)


class RealSetError(ValueError):
    """The manifest, a package or a converted clip is not what it should be; the message says which."""


def default_dir() -> Path:
    """Where `studio sounds fetch` writes and training/eval look by default:
    `$SYNESTHESIA_REAL_SOUNDS`, else `real_sounds/` in the user's data folder."""
    from studio.paths import data_home

    override = os.environ.get("SYNESTHESIA_REAL_SOUNDS")
    return Path(override).expanduser() if override else data_home() / "real_sounds"


def default_cache() -> Path:
    from studio.paths import data_home

    return data_home() / "cache" / "debs"


def refuse_reserved(names: Iterable[str]) -> None:
    """Raise if any package name is reserved for the outside evaluation."""
    bad = sorted(set(names) & RESERVED_PACKAGES)
    if bad:
        raise RealSetError(f"reserved for an outside evaluation, never used here: {', '.join(bad)}")


# --------------------------------------------------------------------------- manifest
@dataclass(frozen=True)
class Package:
    name: str
    version: str
    split: str
    licence: str
    evidence: tuple[str, ...]  # phrases its copyright file must contain (the licence check)


@dataclass(frozen=True)
class Clip:
    package: str
    path: str  # inside the package; "ARCHIVE!MEMBER" steps into an archive
    sha256: str  # of that file's bytes
    kind: str
    split: str
    offset: float  # seconds into the file (at 16 kHz)
    seconds: float  # length of the clip
    licence: str
    credit: str
    basis: str  # why the kind is right (file name, package docs, spectrogram)

    @property
    def name(self) -> str:
        stem = self.path.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
        if "." in stem and not stem.startswith("."):
            stem = stem.rsplit(".", 1)[0]
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "clip"
        window = f"_{round(self.offset * 1000):06d}ms" if self.offset > 0 else ""
        return f"{self.package}__{stem}{window}.wav"

    @property
    def relative(self) -> Path:
        return Path(self.split) / self.kind / self.name


@dataclass(frozen=True)
class RealSet:
    packages: dict[str, Package]
    clips: tuple[Clip, ...]

    def in_split(self, split: str) -> list[Clip]:
        return [c for c in self.clips if c.split == split]

    def counts(self) -> dict[str, Counter]:
        return {split: Counter(c.kind for c in self.in_split(split)) for split in SPLITS}

    def packages_in(self, split: str) -> list[str]:
        return sorted(name for name, p in self.packages.items() if p.split == split)


def load_manifest(path: Path = MANIFEST) -> RealSet:
    """Read and validate a manifest: known kinds and splits, no reserved package, one split per
    package, unique output names, windows no longer than MAX_CLIP_SECONDS."""
    from studio.world.sounds import KIND_INDEX

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RealSetError(f"cannot read the real-sound manifest {path}: {exc}") from exc
    try:
        packages = {
            name: Package(name, str(p["version"]), str(p["split"]), str(p["licence"]), tuple(p["evidence"]))
            for name, p in data["packages"].items()
        }
        refuse_reserved(packages)
        clips = tuple(
            Clip(
                package=c["package"],
                path=c["path"],
                sha256=c["sha256"],
                kind=c["kind"],
                split=packages[c["package"]].split,
                offset=float(c.get("offset", 0.0)),
                seconds=float(c["seconds"]),
                licence=c.get("licence") or packages[c["package"]].licence,
                credit=c.get("credit", ""),
                basis=c.get("basis", ""),
            )
            for c in data["clips"]
        )
    except KeyError as exc:
        raise RealSetError(f"{path}: missing key {exc} (or a clip names an unlisted package)") from exc
    except (TypeError, ValueError) as exc:
        raise RealSetError(f"{path}: malformed entry ({exc})") from exc
    refuse_reserved(c.package for c in clips)
    for p in packages.values():
        if p.split not in SPLITS:
            raise RealSetError(f"package {p.name}: split must be one of {SPLITS}, not {p.split!r}")
        if not p.evidence:
            raise RealSetError(f"package {p.name}: no licence evidence to check its copyright file against")
    names: set[Path] = set()
    for c in clips:
        if c.kind not in KIND_INDEX:
            raise RealSetError(f"{c.package} {c.path}: unknown sound kind {c.kind!r}")
        if not MIN_CLIP_SECONDS <= c.seconds <= MAX_CLIP_SECONDS or c.offset < 0:
            raise RealSetError(f"{c.package} {c.path}: window {c.offset}+{c.seconds} s is out of range")
        if not re.fullmatch(r"[0-9a-f]{64}", c.sha256):
            raise RealSetError(f"{c.package} {c.path}: sha256 must be 64 hex digits")
        if c.relative in names:
            raise RealSetError(f"two clips would both be written to {c.relative}")
        names.add(c.relative)
    return RealSet(packages, clips)


# --------------------------------------------------------------------------- getting packages
def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


def _deb_fields(deb: Path) -> tuple[str, str]:
    """(Package, Version) from a .deb's control file."""
    if shutil.which("dpkg-deb") is None:
        raise RealSetError("dpkg-deb is not installed: unpacking .deb files needs the dpkg tools")
    done = _run(["dpkg-deb", "--showformat=${Package}\t${Version}", "--show", str(deb)])
    if done.returncode != 0 or "\t" not in done.stdout:
        raise RealSetError(f"{deb.name} is not a readable .deb ({done.stderr.strip() or 'no control data'})")
    name, version = done.stdout.strip().split("\t", 1)
    return name, version


def find_deb(folder: Path, package: Package) -> Path | None:
    """The .deb of exactly this package and version in `folder`, if there is one."""
    if not folder.is_dir():
        return None
    for deb in sorted(folder.glob(f"{package.name}_*.deb")):
        if _deb_fields(deb) == (package.name, package.version):
            return deb
    return None


def download_deb(package: Package, cache: Path, apt_get: str = "apt-get") -> Path:
    """`apt-get download NAME=VERSION` into `cache` (kept for the next run)."""
    refuse_reserved([package.name])
    if shutil.which(apt_get) is None:
        raise RealSetError(
            f"{apt_get} is not available: fetching needs a Debian-based system with apt "
            "(or pass --debs FOLDER holding the .deb files named in the manifest)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s %s", package.name, package.version)
    done = _run([apt_get, "download", f"{package.name}={package.version}"], cwd=cache)
    found = find_deb(cache, package)
    if done.returncode != 0 or found is None:
        reason = " ".join(line for line in done.stderr.splitlines() if line.startswith("E:")) or (
            done.stderr.strip()
        )
        raise RealSetError(
            f"cannot download {package.name} {package.version}: {reason or 'apt-get gave no file'}. "
            "The version may have left the archive (run `apt-get update`, or update the manifest), "
            "or pass --debs FOLDER with the .deb"
        )
    return found


def extract_deb(deb: Path, dest: Path) -> None:
    """Unpack a .deb's files (as `dpkg -x` does) into `dest`."""
    done = _run(["dpkg-deb", "-x", str(deb), str(dest)])
    if done.returncode != 0:
        raise RealSetError(f"cannot unpack {deb.name}: {done.stderr.strip()}")


def check_licence(root: Path, package: Package) -> str:
    """The package's copyright file must exist and contain every phrase of `package.evidence`."""
    copyright_file = root / "usr" / "share" / "doc" / package.name / "copyright"
    if not copyright_file.is_file():
        raise RealSetError(f"{package.name} has no /usr/share/doc/{package.name}/copyright: licence unknown")
    text = copyright_file.read_text(encoding="utf-8", errors="replace")
    squashed = " ".join(text.split())
    missing = [e for e in package.evidence if " ".join(e.split()) not in squashed]
    if missing:
        raise RealSetError(
            f"{package.name}: its copyright file no longer says {missing!r}; check the licence "
            "before using its sounds"
        )
    return text


# --------------------------------------------------------------------------- audio
def decode(data: bytes, label: str) -> tuple[np.ndarray, int]:
    """Decode WAV/OGG/FLAC/MP3 bytes to (float32 [frames, channels], rate): soundfile first,
    the ffmpeg binary that imageio-ffmpeg bundles for anything it cannot read."""
    import io

    import soundfile as sf

    try:
        frames, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return frames, int(rate)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as first:
        try:
            import imageio_ffmpeg

            exe = imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError) as exc:
            raise RealSetError(f"{label}: cannot decode ({first}) and no ffmpeg to try ({exc})") from exc
        done = subprocess.run(
            [exe, "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", str(RATE), "pipe:1"],
            input=data,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0 or not done.stdout:
            raise RealSetError(f"{label}: cannot decode ({first}; ffmpeg: {done.stderr[-200:]!r})") from None
        return np.frombuffer(done.stdout, dtype="<f4").reshape(-1, 1).copy(), RATE


def to_clip(frames: np.ndarray, rate: int, offset: float, seconds: float, label: str) -> np.ndarray:
    """Mono, 16 kHz, the window [offset, offset + seconds), peak-normalised to PEAK."""
    from studio.audio.io import resample

    mono = frames.mean(axis=1) if frames.ndim == 2 else frames
    wave = resample(np.asarray(mono, dtype=np.float32), rate, RATE)
    start = int(round(offset * RATE))
    clip = wave[start : start + int(round(seconds * RATE))]
    if len(clip) < (seconds - LENGTH_TOLERANCE_S) * RATE:
        raise RealSetError(
            f"{label}: the file is {len(wave) / RATE:.2f} s, too short for the window "
            f"{offset:g}+{seconds:g} s"
        )
    clip = clip - float(np.mean(clip))
    peak = float(np.max(np.abs(clip))) if len(clip) else 0.0
    if not np.isfinite(peak) or peak < 1e-4:
        raise RealSetError(f"{label}: the window {offset:g}+{seconds:g} s is silent")
    return (clip * (PEAK / peak)).astype(np.float32)


def verify_clip(path: Path, clip: Clip) -> None:
    """A written clip must read back as 16 kHz mono of the listed length, finite and not silent."""
    import soundfile as sf

    try:
        data, rate = sf.read(path, dtype="float32")
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise RealSetError(f"{path} does not read back: {exc}") from exc
    if rate != RATE or data.ndim != 1:
        raise RealSetError(f"{path}: expected 16 kHz mono, got {rate} Hz with shape {data.shape}")
    if abs(len(data) / RATE - clip.seconds) > LENGTH_TOLERANCE_S:
        raise RealSetError(f"{path}: {len(data) / RATE:.3f} s long, the manifest says {clip.seconds:g} s")
    if not np.all(np.isfinite(data)) or float(np.max(np.abs(data))) < 0.5 * PEAK:
        raise RealSetError(f"{path}: samples are not finite or the clip is near silent")


# --------------------------------------------------------------------------- fetch
def fetch(
    out: Path,
    cache: Path | None = None,
    debs: Path | None = None,
    manifest: Path = MANIFEST,
    apt_get: str = "apt-get",
    report: Callable[[str], None] = log.info,
    packages: Iterable[str] | None = None,
) -> dict[str, Counter]:
    """Build the set in `out` (see the module docstring); returns clip counts per split and kind.

    `.deb` files are looked for in `debs` first, then in `cache`, and downloaded into `cache`
    only when neither has the exact version. `packages` limits the run to some packages."""
    real = load_manifest(manifest)
    cache = cache or default_cache()
    wanted = sorted(real.packages) if packages is None else sorted(set(packages))
    refuse_reserved(wanted)
    unknown = sorted(set(wanted) - set(real.packages))
    if unknown:
        raise RealSetError(f"not in the manifest: {', '.join(unknown)}")
    if shutil.which("dpkg-deb") is None:
        raise RealSetError("dpkg-deb is not installed: unpacking .deb files needs the dpkg tools")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Clip] = []
    for name in wanted:
        package = real.packages[name]
        clips = [c for c in real.clips if c.package == name]
        deb = (find_deb(debs, package) if debs else None) or find_deb(cache, package)
        if deb is None:
            deb = download_deb(package, cache, apt_get)
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
            root = Path(tmp)
            extract_deb(deb, root)
            check_licence(root, package)
            written.extend(_convert_package(root, package, clips, out))
        report(f"{name} {package.version} ({package.split}): {len(clips)} clips")
    for clip in written:
        verify_clip(out / clip.relative, clip)
    if packages is None:  # both splits complete: no held-out clip may repeat a training clip
        pairs = near_duplicates(
            [out / c.relative for c in written if c.split == "heldout"],
            [out / c.relative for c in written if c.split == "train"],
        )
        if pairs:
            shown = "; ".join(f"{a.name} ~ {b.name} ({r:.2f})" for a, b, r in pairs[:5])
            raise RealSetError(f"held-out clips repeat training clips: {shown}")
    _write_index(out, real, written)
    return {split: Counter(c.kind for c in written if c.split == split) for split in SPLITS}


def _convert_package(root: Path, package: Package, clips: list[Clip], out: Path) -> list[Clip]:
    from studio.audio.containers import ContainerError, read_path
    from studio.audio.io import write_wav

    done: list[Clip] = []
    decoded: dict[str, tuple[np.ndarray, int]] = {}
    for clip in clips:
        label = f"{package.name}:{clip.path}"
        if clip.path not in decoded:
            try:
                data = read_path(root, clip.path)
            except ContainerError as exc:
                raise RealSetError(f"{package.name} {package.version}: {exc}") from exc
            digest = hashlib.sha256(data).hexdigest()
            if digest != clip.sha256:
                raise RealSetError(f"{label} changed (sha256 {digest[:12]}…, manifest {clip.sha256[:12]}…)")
            decoded = {clip.path: decode(data, label)}  # one source file in memory at a time
        frames, rate = decoded[clip.path]
        wave = to_clip(frames, rate, clip.offset, clip.seconds, label)
        target = out / clip.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        write_wav(target, wave, RATE)
        done.append(clip)
    return done


def _write_index(out: Path, real: RealSet, written: list[Clip]) -> None:
    """OUT/clips.json: what was written, so a folder says where each file came from."""
    index = {
        "packages": {
            name: {"version": p.version, "split": p.split, "licence": p.licence}
            for name, p in real.packages.items()
            if any(c.package == name for c in written)
        },
        "clips": [
            {
                "file": str(c.relative),
                "package": c.package,
                "path": c.path,
                "offset": c.offset,
                "seconds": c.seconds,
                "kind": c.kind,
                "licence": c.licence,
                "credit": c.credit,
            }
            for c in written
        ],
    }
    previous = out / "clips.json"
    if previous.is_file():  # a partial run (--package) adds to what an earlier run wrote
        try:
            old = json.loads(previous.read_text(encoding="utf-8"))
            keep = [c for c in old.get("clips", []) if c.get("package") not in index["packages"]]
            index["clips"] = keep + index["clips"]
            index["packages"] = {**old.get("packages", {}), **index["packages"]}
        except (OSError, ValueError):
            pass
    tmp = previous.with_name("clips.json.tmp")
    tmp.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, previous)


DUPLICATE_CORRELATION = 0.9  # recordings shared by two packages scored 0.92-1.0, different ones below 0.85


def _fingerprint(path: Path, seconds: float = 5.0) -> np.ndarray:
    """Log-mel of the first seconds, each band normalised over time (level and EQ do not count)."""
    import soundfile as sf

    from studio.audio.mel import log_mel

    data, _ = sf.read(path, dtype="float32")
    m = np.asarray(log_mel(data[: int(seconds * RATE)]), dtype=np.float32)
    return (m - m.mean(axis=1, keepdims=True)) / (m.std(axis=1, keepdims=True) + 1e-3)


def _similarity(a: np.ndarray, b: np.ndarray, max_shift: int = 20) -> float:
    """Best correlation of two fingerprints over small time shifts (loops start anywhere)."""
    n = min(a.shape[1], b.shape[1])
    best = -1.0
    for shift in range(-max_shift, max_shift + 1):
        x = a[:, max(shift, 0) : n + min(shift, 0)]
        y = b[:, max(-shift, 0) : n - max(shift, 0)] if shift >= 0 else b[:, -shift:n]
        width = min(x.shape[1], y.shape[1])
        if width < 20:
            continue
        x, y = x[:, :width], y[:, :width]
        best = max(best, float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum() + 1e-9)))
    return best


def near_duplicates(
    first: list[Path], second: list[Path], threshold: float = DUPLICATE_CORRELATION
) -> list[tuple[Path, Path, float]]:
    """Pairs (a in first, b in second) that are the same recording, found by spectrogram."""
    prints_b = [(path, _fingerprint(path)) for path in second]
    found = []
    for a in first:
        fa = _fingerprint(a)
        for b, fb in prints_b:
            r = _similarity(fa, fb)
            if r >= threshold:
                found.append((a, b, r))
    return found


# --------------------------------------------------------------------------- reading a built set
def folder_clips(folder: Path) -> list[tuple[Path, str]]:
    """(file, kind) for every `KIND/*.wav` under a split folder (e.g. OUT/heldout)."""
    from studio.world.sounds import KIND_INDEX

    return [
        (path, path.parent.name)
        for path in sorted(Path(folder).glob("*/*.wav"))
        if path.parent.name in KIND_INDEX
    ]


def training_clips(folder: Path, manifest: Path = MANIFEST) -> list[tuple[Path, str]]:
    """(file, kind) of the train split of a built set. Refuses a folder that is a held-out
    split, and any file whose package is held out or reserved (the held-out set stays unseen)."""
    folder = Path(folder)
    if folder.name in SPLITS:
        raise RealSetError(f"pass the set's folder (holding train/ and heldout/), not {folder}")
    train = folder / "train"
    if not train.is_dir():
        raise RealSetError(
            f"{folder} has no train/ folder: build it with `studio sounds fetch --out {folder}`"
        )
    real = load_manifest(manifest)
    held = set(real.packages_in("heldout")) | RESERVED_PACKAGES
    found = folder_clips(train)
    leaked = sorted({p.name for p, _ in found if p.name.split("__", 1)[0] in held})
    if leaked:
        raise RealSetError(f"held-out or reserved recordings in {train}: {', '.join(leaked[:5])}")
    if not found:
        raise RealSetError(f"{train} holds no KIND/*.wav clips")
    return found
