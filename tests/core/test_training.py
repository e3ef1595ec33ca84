"""Real training steps on tiny models: train, resume, export to ONNX, run under torchrun (DDP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")

from tiny_models import TINY_TRAIN  # noqa: E402

from studio.export.onnx_export import export_checkpoint  # noqa: E402
from studio.hashing import sha256_file  # noqa: E402
from studio.training.config import TrainConfig  # noqa: E402
from studio.training.data import attribute_targets, caption_for  # noqa: E402
from studio.training.loop import load_checkpoint, load_onnx_generator, load_onnx_upscaler, train  # noqa: E402
from studio.training.nets import Generator, Upscaler, attribute_loss  # noqa: E402
from studio.training.run import shipped_embedder  # noqa: E402
from studio.world.captions import SEASONS, TIMES, WEATHERS  # noqa: E402

TINY = TINY_TRAIN


@pytest.fixture(scope="module")
def embed():
    return shipped_embedder()


def test_generator_trains_resumes_and_exports(tmp_path, embed):
    cfg = TrainConfig(name="tiny", steps=2, **TINY)
    out = tmp_path / "run"
    first = train(cfg, out, embed)
    assert first["seen"] == 8 and np.isfinite(first["rec"])
    assert (out / "samples-000002.png").exists()
    cfg.steps = 4
    train(cfg, out, embed, resume=True)
    state = load_checkpoint(out / "checkpoint.pt")  # weights_only=True inside
    assert state["step"] == 4 and state["seen"] == 16

    manifest = export_checkpoint(out / "checkpoint.pt", tmp_path / "models" / "tiny")
    onnx_path = tmp_path / "models" / "tiny.onnx"
    assert manifest["sha256"] == sha256_file(onnx_path)
    assert manifest["metrics"]["onnx_parity_max_abs_diff"] < 1e-3
    assert manifest["training"]["steps"] == 4 and manifest["training"]["config"]["seed"] == 0
    assert len(manifest["label_classes"]) == 11 and manifest["embedding_space"] == "minilm-l6-v2"
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    labels = np.zeros((3, 11, 16, 16), np.float32)
    labels[:, 0] = 1
    (image,) = session.run(
        ["image"], {"z": np.zeros((3, 8), np.float32), "text": embed(["a", "b", "c"]), "labels": labels}
    )
    assert image.shape == (3, 3, 16, 16) and np.abs(image).max() <= 1


def test_attribute_targets_score_only_what_the_caption_names():
    targets = attribute_targets(["a stormy lake at night in winter", "a lake", "sunset over the sea"])
    assert targets.tolist() == [
        [TIMES.index("night"), WEATHERS.index("stormy"), SEASONS.index("winter")],
        [-1, -1, -1],
        [TIMES.index("sunset"), -1, -1],
    ]
    logits = tuple(torch.zeros(3, n, requires_grad=True) for n in (7, 7, 4))
    loss = attribute_loss(logits, torch.from_numpy(targets))
    # uniform logits: every named attribute costs log(classes); unnamed ones cost nothing
    expected = (np.log(7) + np.log(7) + np.log(4) + np.log(7)) / 4  # night, stormy, winter; sunset
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert float(attribute_loss(logits, torch.full((3, 3), -1))) == 0.0


def test_fine_tune_starts_from_an_exported_generator_with_an_attribute_head(tmp_path, embed):
    """--init: a fresh run takes the ONNX generator's weights; the AC-GAN head trains beside it."""
    train(TrainConfig(name="tiny", steps=2, **TINY), tmp_path / "base", embed)
    export_checkpoint(tmp_path / "base" / "checkpoint.pt", tmp_path / "models" / "tiny")
    onnx_path = tmp_path / "models" / "tiny.onnx"
    shipped = load_checkpoint(tmp_path / "base" / "checkpoint.pt")["G_ema"]

    G = Generator(TINY["z_dim"], TINY["ngf"], resolution=TINY["resolution"])
    load_onnx_generator(G, onnx_path)
    assert all(torch.equal(G.state_dict()[k], shipped[k]) for k in shipped)
    with pytest.raises(ValueError, match="does not fit this config's generator"):
        load_onnx_generator(Generator(TINY["z_dim"], 8, resolution=TINY["resolution"]), onnx_path)

    cfg = TrainConfig(name="tiny", steps=2, attr_weight=1.0, init=str(onnx_path), **TINY)
    last = train(cfg, tmp_path / "tuned", embed)
    assert np.isfinite(last["attr_d"]) and np.isfinite(last["attr_g"])
    state = load_checkpoint(tmp_path / "tuned" / "checkpoint.pt")
    assert state["config"]["init"] == str(onnx_path) and "attribute_head.weight" in state["D"]
    assert not torch.equal(state["G"]["to_rgb.1.weight"], shipped["to_rgb.1.weight"])  # it trained on
    manifest = export_checkpoint(tmp_path / "tuned" / "checkpoint.pt", tmp_path / "models" / "tuned")
    assert manifest["training"]["config"]["attr_weight"] == 1.0 and manifest["version"] == "1.1.2"
    assert manifest["training"]["init"] == {"onnx": str(onnx_path), "sha256": sha256_file(onnx_path)}


def test_grown_generator_starts_as_its_trunk_and_trains_only_the_refinement(tmp_path, embed):
    """A 16 px export grown to 32 px renders the upsampled 16 px picture before training (the
    refinement residual starts at zero); freeze_trunk then trains the 32 px level alone."""
    train(TrainConfig(name="tiny", steps=2, **TINY), tmp_path / "base", embed)
    export_checkpoint(tmp_path / "base" / "checkpoint.pt", tmp_path / "models" / "tiny")
    onnx_path = tmp_path / "models" / "tiny.onnx"
    small = Generator(TINY["z_dim"], TINY["ngf"], resolution=16)
    grown = Generator(TINY["z_dim"], TINY["ngf"], resolution=32, trunk=16)
    load_onnx_generator(small, onnx_path)
    load_onnx_generator(grown, onnx_path)
    z, text = torch.randn(2, TINY["z_dim"]), torch.from_numpy(embed(["a lake", "a forest at dusk"]))
    labels = torch.zeros(2, 11, 32, 32)
    labels[:, 0] = 1
    with torch.no_grad():
        up = torch.nn.functional.interpolate(
            small(z, text, labels[:, :, ::2, ::2]), scale_factor=2.0, mode="bilinear"
        )
        assert torch.allclose(grown(z, text, labels), up, atol=1e-6)
    with pytest.raises(ValueError, match="must be the trunk's"):
        Generator(TINY["z_dim"], TINY["ngf"], resolution=48, trunk=16)

    tiny32 = {**TINY, "resolution": 32}
    cfg = TrainConfig(
        name="tiny", steps=2, trunk=16, freeze_trunk=True, encode_fraction=0.0, init=str(onnx_path), **tiny32
    )
    train(cfg, tmp_path / "grown", embed)
    state = load_checkpoint(tmp_path / "grown" / "checkpoint.pt")
    trunk = {k: v for k, v in state["G"].items() if not k.startswith("refine.")}
    assert all(torch.equal(v, small.state_dict()[k]) for k, v in trunk.items())
    assert state["G"]["refine.0.to_rgb.1.weight"].abs().sum() > 0  # the new level learned
    manifest = export_checkpoint(tmp_path / "grown" / "checkpoint.pt", tmp_path / "models" / "grown")
    assert manifest["resolution"] == 32 and manifest["training"]["config"]["trunk"] == 16
    with pytest.raises(ValueError, match="freeze_trunk needs"):
        train(TrainConfig(name="tiny", steps=1, freeze_trunk=True, **TINY), tmp_path / "bad", embed)


def test_upscaler_trains_and_exports(tmp_path, embed):
    cfg = TrainConfig(name="tiny_sr", kind="upscaler", steps=2, scale=2, **TINY)
    train(cfg, tmp_path / "sr", embed)
    manifest = export_checkpoint(tmp_path / "sr" / "checkpoint.pt", tmp_path / "tiny_sr")
    assert manifest["kind"] == "upscaler" and manifest["scale"] == 2
    assert manifest["outputs"][0] == {
        "name": "upscaled",
        "shape": ["N", 3, 32, 32],
        "dtype": "float32",
        "meaning": "image in [-1, 1]",
    }


def test_adversarial_upscaler_resumes_from_l1_and_exports(tmp_path, embed):
    """SRGAN fine-tuning: an L1-only snapshot (no critic) resumes with a fresh PatchGAN critic."""
    out = tmp_path / "sr"
    train(TrainConfig(name="tiny_sr", kind="upscaler", steps=2, scale=2, **TINY), out, embed)
    assert "D" not in load_checkpoint(out / "checkpoint.pt")
    cfg = TrainConfig(name="tiny_sr", kind="upscaler", steps=4, scale=2, adv_weight=0.05, adv_start=2, **TINY)
    last = train(cfg, out, embed, resume=True)
    assert np.isfinite(last["adv"]) and np.isfinite(last["loss_d"]) and np.isfinite(last["l1"])
    state = load_checkpoint(out / "checkpoint.pt")  # weights_only=True inside
    assert state["step"] == 4 and {"U", "U_ema", "opt", "D", "opt_d"} <= set(state)

    manifest = export_checkpoint(out / "checkpoint.pt", tmp_path / "tiny_sr")
    assert "SRGAN" in manifest["description"] and manifest["training"]["config"]["adv_weight"] == 0.05
    heldout = manifest["metrics"]["heldout_renders"]
    for scores in (heldout["bicubic"], heldout["model"]):
        assert scores["psnr_db"] > 10 and scores["gradient_ratio"] > 0 and scores["high_freq_ratio"] > 0
    session = ort.InferenceSession(str(tmp_path / "tiny_sr.onnx"), providers=["CPUExecutionProvider"])
    (image,) = session.run(["upscaled"], {"image": np.zeros((1, 3, 16, 16), np.float32)})
    assert image.shape == (1, 3, 32, 32) and np.abs(image).max() <= 1


def test_upscaler_fine_tune_starts_from_its_onnx_with_sharpening_inputs(tmp_path, embed):
    """--init for an upscaler: a fresh run takes the exported weights (its critic starts fresh) and
    trains on blurred, noise-free inputs; an upscaler of another scale does not fit."""
    train(TrainConfig(name="tiny_sr", kind="upscaler", steps=2, scale=2, **TINY), tmp_path / "sr", embed)
    export_checkpoint(tmp_path / "sr" / "checkpoint.pt", tmp_path / "models" / "tiny_sr")
    onnx_path = tmp_path / "models" / "tiny_sr.onnx"
    shipped = load_checkpoint(tmp_path / "sr" / "checkpoint.pt")["U_ema"]
    U = Upscaler(2)
    load_onnx_upscaler(U, onnx_path)
    assert all(torch.equal(U.state_dict()[k], shipped[k]) for k in shipped)
    with pytest.raises(ValueError, match="does not fit this config's upscaler"):
        load_onnx_upscaler(Upscaler(4), onnx_path)
    cfg = TrainConfig(
        name="tiny_sr",
        kind="upscaler",
        steps=2,
        scale=2,
        adv_weight=0.1,
        input_noise=0.0,
        input_blur=1.0,
        init=str(onnx_path),
        **TINY,
    )
    last = train(cfg, tmp_path / "tuned", embed)
    assert np.isfinite(last["l1"]) and np.isfinite(last["adv"])
    state = load_checkpoint(tmp_path / "tuned" / "checkpoint.pt")
    assert state["config"]["input_blur"] == 1.0 and not torch.equal(
        state["U"]["head.weight"], shipped["head.weight"]
    )


def test_a_stopped_run_reports_the_step_it_reached(tmp_path, embed):
    """A run stopped early (SIGTERM sets should_stop) says where it stopped, not the config's total."""
    calls = iter([False, False, True])
    cfg = TrainConfig(name="tiny_sr", kind="upscaler", steps=5, scale=2, **TINY)
    assert train(cfg, tmp_path / "sr", embed, should_stop=lambda: next(calls))["step"] == 2


def test_upscaler_rejects_negative_adversarial_weight(tmp_path, embed):
    cfg = TrainConfig(name="tiny_sr", kind="upscaler", steps=1, scale=2, adv_weight=-1.0, **TINY)
    with pytest.raises(ValueError, match="adv_weight and adv_start must be >= 0"):
        train(cfg, tmp_path / "sr", embed)


def test_folder_data_captions(tmp_path, embed):
    from PIL import Image

    for name, color in (("red_sunset_sky", (200, 60, 40)), ("blue-lake", (30, 60, 200))):
        Image.new("RGB", (40, 30), color).save(tmp_path / f"{name}.png")
    (tmp_path / "blue-lake.txt").write_text("a calm blue lake\n")
    assert caption_for(tmp_path / "red_sunset_sky.png") == "red sunset sky"
    assert caption_for(tmp_path / "blue-lake.png") == "a calm blue lake"
    cfg = TrainConfig(name="folder", steps=1, data=str(tmp_path), **TINY)
    assert train(cfg, tmp_path / "run", embed)["seen"] == 4


def test_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"name": "x", "stepz": 3}))
    with pytest.raises(ValueError, match="stepz"):
        TrainConfig.load(path)


@pytest.mark.slow
def test_runs_under_torchrun_with_two_processes(tmp_path):
    """The same loop under torchrun: DistributedDataParallel over gloo with 2 CPU processes."""
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"name": "ddp", "steps": 2, **TINY}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "studio.training",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "ddp"),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    state = load_checkpoint(Path(tmp_path / "ddp" / "checkpoint.pt"))
    assert state["seen"] == 2 * 2 * 4  # steps × processes × batch


def test_cli_train_and_export_report_bad_input(tmp_path):
    def studio(*args):
        return subprocess.run([sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True)

    missing = studio("export", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "m"))
    assert missing.returncode == 2 and "no checkpoint" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "stepz": 1}')
    result = studio("train", "--config", str(bad))
    assert result.returncode == 2 and "stepz" in result.stderr and "Traceback" not in result.stderr
    good = tmp_path / "good.json"
    good.write_text('{"name": "x", "steps": 1}')
    no_init = studio("train", "--config", str(good), "--init", str(tmp_path / "nope.onnx"))
    assert no_init.returncode == 2 and "--init" in no_init.stderr and "not a file" in no_init.stderr


def test_cli_train_runs_and_exports(tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"name": "cli", "steps": 1, **TINY}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = [sys.executable, "-m", "studio.cli"]
    trained = subprocess.run(
        [*run, "train", "--config", str(config), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    exported = subprocess.run(
        [*run, "export", str(tmp_path / "run" / "checkpoint.pt"), "-o", str(tmp_path / "out" / "cli")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert json.loads((tmp_path / "out" / "cli.json").read_text())["training"]["steps"] == 1
