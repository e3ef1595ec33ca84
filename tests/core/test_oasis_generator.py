"""The rebuilt generator: OASIS segmentation D, scene-attribute input, per-pixel noise — trained for
real steps on a tiny model, exported, and rendered through the real registry and pipeline."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tiny_models import TINY_TRAIN, link_shipped_text_encoder  # noqa: E402

from studio.export.onnx_export import export_checkpoint  # noqa: E402
from studio.inference.attribute_lexicon import LEXICON  # noqa: E402
from studio.inference.attributes import attributes_for_prompt, describe, read_attributes  # noqa: E402
from studio.inference.pipeline import Pipeline, PipelineError  # noqa: E402
from studio.inference.registry import ModelRegistry  # noqa: E402
from studio.training.config import TrainConfig  # noqa: E402
from studio.training.loop import load_checkpoint, load_onnx_generator, train  # noqa: E402
from studio.training.nets import Generator  # noqa: E402
from studio.training.oasis import (  # noqa: E402
    class_balance,
    diversity_loss,
    lowfreq_loss,
    seg_generator_loss,
    trunk_loss,
)
from studio.training.oasis_run import build_generator  # noqa: E402
from studio.training.run import shipped_embedder  # noqa: E402
from studio.world.captions import EVAL_ONLY_PHRASES  # noqa: E402
from studio.world.classes import NUM_CLASSES  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[2] / "exported_models"
TINY = TINY_TRAIN
OASIS = dict(
    disc="oasis",
    attributes=True,
    noise=True,
    attr_weight=1.0,
    d_warmup=1,
    fresh_lr_mult=100.0,
    lowfreq_weight=1.0,
    diversity_weight=1.0,
    attr_drop=0.0,
    text_drop=0.5,
)


@pytest.fixture(scope="module")
def tiny_oasis(tmp_path_factory) -> Path:
    """A models folder with a tiny OASIS generator trained for 3 real steps and exported."""
    root = tmp_path_factory.mktemp("oasis")
    cfg = TrainConfig(name="tiny-oasis", steps=3, upscaler=None, **TINY, **OASIS)
    metrics = train(cfg, root / "run", shipped_embedder())
    assert np.isfinite(metrics["seg_g"]) and metrics["seen"] == 12
    assert metrics["div"] > 0 and np.isfinite(metrics["low"])
    models = root / "models"
    models.mkdir()
    if link_shipped_text_encoder(models) is None:
        pytest.skip("the shipped text encoder is not exported")
    export_checkpoint(root / "run" / "checkpoint.pt", models / "tiny-oasis")
    return models


def test_grown_parts_start_as_no_ops():
    """Attributes and noise start at zero, so a shipped generator fine-tuned into one that has
    them first renders exactly its old picture."""
    torch.manual_seed(0)
    plain = Generator(8, 4, resolution=16)
    grown = Generator(8, 4, resolution=16, attr_dim=18, noise=True)
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("attr_proj") or k.endswith("noise_scale") for k in missing)
    z, text = torch.randn(2, 8), torch.randn(2, 384)
    labels = torch.zeros(2, 11, 16, 16)
    labels[:, 1] = 1
    attrs = torch.zeros(2, 18)
    attrs[:, 6] = 1
    with torch.no_grad():
        expected = plain(z, text, labels)
        got = grown(z, text, labels, attrs, torch.randn(2, 1, 16, 16))
    assert torch.allclose(expected, got, atol=1e-6)


def test_onnx_init_fills_only_parts_that_start_as_no_ops(tmp_path):
    shipped = SHIPPED / "landscape64.onnx"
    if not shipped.is_file():
        pytest.skip("landscape64 is not exported")
    grown = Generator(64, 16, resolution=64, attr_dim=18, noise=True)
    load_onnx_generator(grown, shipped)  # attr_proj and noise scales are new: allowed
    wrong = Generator(64, 8, resolution=64)
    with pytest.raises(ValueError, match="does not fit"):
        load_onnx_generator(wrong, shipped)


def test_class_balance_weighs_each_present_class_equally():
    labels = torch.ones(1, 8, 8, dtype=torch.long)
    labels[0, :2, :2] = 5  # 4 rock pixels among 60 sky pixels
    weights = class_balance(labels)
    assert weights[labels == 5].sum() == pytest.approx(weights[labels == 1].sum())
    assert weights.mean() == pytest.approx(1.0)


def test_lowfreq_loss_sees_light_not_detail():
    """Night vs day (block means) costs; a different texture with the same means does not."""
    torch.manual_seed(0)
    real = torch.rand(2, 3, 16, 16) * 0.2
    checker = torch.ones(16, 16)
    checker[::2, ::2] = -1
    checker[1::2, 1::2] = -1
    retextured = real + 0.1 * checker  # the finest texture there is: the low-pass removes it
    rows = torch.tensor([True, False])
    assert lowfreq_loss(retextured, real, rows).item() == pytest.approx(0.0, abs=1e-3)
    assert lowfreq_loss(real - 0.5, real, rows).item() == pytest.approx(0.5, abs=1e-5)
    assert lowfreq_loss(real - 0.5, real, torch.tensor([False, False])).item() == 0.0


def test_diversity_loss_rewards_differing_seeds_up_to_the_cap_but_not_grain():
    a = torch.zeros(2, 3, 32, 32)
    assert diversity_loss(a, a + 0.05, cap=0.15).item() == pytest.approx(-0.05)
    assert diversity_loss(a, a + 0.9, cap=0.15).item() == pytest.approx(-0.15)
    grain = torch.ones(32, 32)
    grain[::2, ::2] = grain[1::2, 1::2] = -1  # ±0.5 per pixel: nothing survives the low-pass
    assert diversity_loss(a, a + 0.5 * grain, cap=0.15).item() == pytest.approx(0.0, abs=1e-3)


def test_generator_loss_asks_text_only_rows_for_any_real_class():
    logits = torch.zeros(2, 11, 4, 4)
    logits[:, 0] = 5.0  # D calls every pixel fake
    labels = torch.full((2, 4, 4), 3)
    weights = torch.ones(2, 4, 4)
    sketched = seg_generator_loss(logits, labels, weights, torch.tensor([True, True]))
    text_only = seg_generator_loss(logits, labels, weights, torch.tensor([False, False]))
    assert text_only < sketched  # "any real class" is easier than "mountain"
    logits[:, 0] = -5.0
    assert seg_generator_loss(logits, labels, weights, torch.tensor([False, False])) < 0.01


def test_tiny_oasis_model_resumes(tiny_oasis, tmp_path):
    run = tiny_oasis.parent / "run"
    cfg = TrainConfig(name="tiny-oasis", steps=4, upscaler=None, **TINY, **OASIS)
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    train(cfg, copy, shipped_embedder(), resume=True)
    state = load_checkpoint(copy / "checkpoint.pt")
    assert state["step"] == 4 and state["seen"] == 16 and "D" in state


def test_a_run_stopped_in_its_d_warmup_resumes_after_the_steps_it_took(tmp_path):
    """D-only warmup steps are steps: a run that ends inside its warmup keeps its trained D at
    that step, and a resume goes on from there instead of warming D up again from step 0."""
    cfg = TrainConfig(name="tiny-warmup", steps=2, upscaler=None, **{**TINY, **OASIS, "d_warmup": 3})
    train(cfg, tmp_path, shipped_embedder())
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 2 and state["seen"] == 8 and "D" in state
    cfg.steps = 4
    metrics = train(cfg, tmp_path, shipped_embedder(), resume=True)
    assert metrics["step"] == 4 and "seg_g" in metrics  # step 3 was G's first
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 4


def test_exported_model_takes_attributes_and_noise(tiny_oasis):
    pipe = Pipeline(ModelRegistry([tiny_oasis]), device="cpu")
    info = pipe.registry.get("tiny-oasis")
    assert [s.name for s in info.inputs] == ["z", "text", "labels", "attributes", "noise"]
    assert dict(info.attribute_groups)["time"][-1] == "night"
    (recipe,) = pipe.recipes_for("a lake under the moon in winter", count=1, model="tiny-oasis", size=16)
    assert recipe.extra["attributes"] == {"time": "night", "weather": None, "season": "winter"}
    base = pipe.render([recipe])[0]
    assert np.array_equal(base, pipe.render([recipe])[0])  # noise comes from the seed: exact
    (pinned,) = pipe.recipes_for(
        "a lake under the moon in winter", count=1, model="tiny-oasis", size=16, attributes={"time": "noon"}
    )
    assert pinned.extra["attributes"]["time"] == "noon" and pinned.extra["attributes"]["season"] == "winter"
    assert not np.array_equal(base, pipe.render([pinned])[0])
    with pytest.raises(PipelineError, match="time must be one of"):
        pipe.recipes_for("x", count=1, model="tiny-oasis", attributes={"time": "teatime"})
    broken = recipe.replace(extra={"attributes": {"mood": "happy"}})
    with pytest.raises(PipelineError, match="unknown attribute group"):
        pipe.render([broken])


def test_reader_knows_dozens_of_phrasings_but_no_evaluation_wording():
    for group, values in LEXICON.items():
        for value, phrases in values.items():
            assert len(phrases) >= 15, (group, value)
            for phrase in phrases:
                for held_out in EVAL_ONLY_PHRASES:
                    assert not re.search(r"(?<![\w-])" + re.escape(held_out) + r"(?![\w-])", phrase)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a misty lake under snowy mountains at dawn", {"time": "dawn", "weather": "foggy", "season": None}),
        ("Thunderstorm over the sea, late at night", {"time": "night", "weather": "stormy", "season": None}),
        (
            "autumn forest after lunch in the drizzle",
            {"time": "afternoon", "weather": "rainy", "season": "autumn"},
        ),
        ("a waterfall", {"time": None, "weather": None, "season": None}),
        ("a starry lake", {"time": "night", "weather": "clear", "season": None}),  # one phrase, two groups
        ("a grey mountain lake in summer", {"time": None, "weather": "overcast", "season": "summer"}),
        ("grey rocks by the sea", {"time": None, "weather": None, "season": None}),  # a colour of a thing
        ("a snowy mountain lake", {"time": None, "weather": "snowy", "season": None}),
        ("under snowy mountains", {"time": None, "weather": None, "season": None}),
        # words the lexicon does not list, read through a listed word's family
        ("a thundery sky over fog-draped hills", {"time": None, "weather": "stormy", "season": None}),
        ("a snowier valley, frostbitten pines", {"time": None, "weather": "snowy", "season": "winter"}),
        ("a thundery lake under a clear sky", {"time": None, "weather": "clear", "season": None}),
        ("a rainless, storm-free terrain", {"time": None, "weather": None, "season": None}),  # negated
        ("waterfalls as night falls in the heather", {"time": "dusk", "weather": None, "season": None}),
    ],
)
def test_reader_reads_prompts(prompt, expected):
    assert attributes_for_prompt(prompt) == expected


def test_describe_says_where_each_value_came_from():
    attrs = {"time": "night", "weather": "rainy", "season": None}
    line = describe(attrs, "a lake by moonlight")
    assert "time night ← moonlight" in line and "weather rainy (pinned)" in line and "season ?" in line
    assert read_attributes("moonlit")["time"] == ("night", "moonlit")
    assert "weather stormy ← thundery" in describe({"weather": "stormy"}, "a thundery lake")


def test_cli_pins_attributes_and_says_what_it_understood(tmp_path, attribute_models):
    import os
    import subprocess
    import sys

    from studio.paths import REPO_ROOT
    from studio.pngmeta import read_recipe

    models = attribute_models
    env = {**os.environ, "SYNESTHESIA_MODELS": str(models), "SYNESTHESIA_HOME": str(tmp_path / "home")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))

    def studio(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "studio.cli", *args, "--size", "16", "--device", "cpu"]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    result = studio("generate", "a moonlit lake", "--weather", "snowy", "--model", "tiny-attr", "-o", "a.png")
    assert result.returncode == 0, result.stderr
    assert "scene: time night ← moonlit · weather snowy (pinned) · season ?" in result.stdout
    recipe = read_recipe(tmp_path / "a.png")
    assert recipe.extra["attributes"] == {"time": "night", "weather": "snowy", "season": None}
    bad = studio("generate", "x", "--time", "teatime", "--model", "tiny-attr")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_sound_edits_move_the_attributes_they_imply(attribute_models):
    """Owl → night through the attribute input (the words and the layout stay); a sound that
    implies no attribute (waves) still blends the text."""

    from studio.audio.io import wav_bytes
    from studio.inference.pipeline import MemoryAssets
    from studio.world.sounds import synth

    models = attribute_models
    if not (models / "sound_encoder.json").exists():
        pytest.skip("the shipped sound encoder is not exported")
    pipe = Pipeline(ModelRegistry([models]), device="cpu")
    info = pipe.registry.get("tiny-attr")
    owl = synth("owl", np.random.default_rng(3), seconds=4.0)
    assert pipe.sound_attributes(info, pipe.encode_sound(info, owl)) == {"time": "night"}
    (recipe,) = pipe.recipes_for("a lake at noon", count=1, model="tiny-attr", size=16)
    live = pipe.live_sound(recipe, owl, 0.8)
    assert live.extra["sound_attributes"] == {"time": "night"} and "text_embedding" not in live.extra
    row = pipe._attribute_row(info, live, None)
    assert row[2] == pytest.approx(0.2) and row[6] == pytest.approx(0.8)  # noon 0.2, night 0.8
    assets = MemoryAssets()
    sound = assets.put(wav_bytes(owl, pipe.sound_rate(info)))
    committed = recipe.replace(sound=sound, strength=0.8)
    assert np.array_equal(pipe.render([committed], assets)[0], pipe.render([live])[0])
    assert not np.array_equal(pipe.render([recipe])[0], pipe.render([live])[0])
    waves = pipe.live_sound(recipe, synth("ocean_waves", np.random.default_rng(4), seconds=4.0), 0.8)
    assert "text_embedding" in waves.extra


def test_world_producer_ends_when_its_trainer_is_killed():
    """`kill PID` (or -9) on a training run must not leave its renderer process burning a core."""
    import os
    import subprocess
    import sys
    import time

    script = (
        "import time\n"
        "from studio.training.data import WorldStream\n"
        "if __name__ == '__main__':\n"
        "    s = WorldStream(16, seed=1, capacity=64, chunk=8).start(min_fill=8)\n"
        "    print(s._process.pid, flush=True)\n"
        "    time.sleep(120)\n"
    )
    trainer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    producer = int(trainer.stdout.readline())
    trainer.kill()
    trainer.wait()

    def gone() -> bool:
        try:
            with open(f"/proc/{producer}/status") as status:
                return any(line.startswith("State:") and "Z" in line for line in status)
        except FileNotFoundError:
            return True

    deadline = time.time() + 30
    while not gone() and time.time() < deadline:
        time.sleep(0.2)
    if not gone():
        os.kill(producer, 9)
        pytest.fail("the world producer outlived its killed trainer")


def test_bilinear_upsampling_takes_a_nearest_generators_weights_and_exports(tmp_path):
    """The v4 switch: no parameters change, so a trained nearest generator loads as it is; the
    exported bilinear model renders with parity (export checks it) through the real pipeline."""
    nearest = Generator(8, 4, resolution=16, attr_dim=11, noise=True)
    bilinear = Generator(8, 4, resolution=16, attr_dim=11, noise=True, upsample="bilinear")
    bilinear.load_state_dict(nearest.state_dict())  # strict: the same parameters
    with pytest.raises(ValueError, match="nearest or bilinear"):
        Generator(8, 4, resolution=16, upsample="bicubic")
    cfg = TrainConfig(name="tiny-bilinear", steps=2, upscaler=None, upsample="bilinear", **TINY, **OASIS)
    train(cfg, tmp_path / "run", shipped_embedder())
    models = tmp_path / "models"
    models.mkdir()
    if link_shipped_text_encoder(models) is None:
        pytest.skip("the shipped text encoder is not exported")
    export_checkpoint(tmp_path / "run" / "checkpoint.pt", models / "tiny-bilinear")
    pipe = Pipeline(ModelRegistry([models]), device="cpu")
    (recipe,) = pipe.recipes_for("a lake at dawn", count=1, model="tiny-bilinear", size=16)
    (image,) = pipe.render([recipe])
    assert image.shape == (16, 16, 3)


def test_a_killed_run_stops_its_world_producer(tmp_path):
    """`kill PID` (SIGTERM) must not leave the scene-rendering process running on a core."""
    import json
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"name": "tiny-kill", "steps": 100000, "upscaler": None, **TINY, **OASIS}))
    log = tmp_path / "train.log"
    with log.open("w") as out:
        trainer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "studio.training",
                "--config",
                str(config),
                "--out",
                str(tmp_path / "run"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    try:
        deadline = time.monotonic() + 240
        while "step 3/" not in log.read_text() and trainer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "step 3/" in log.read_text(), log.read_text()[-2000:]
        children = Path(f"/proc/{trainer.pid}/task/{trainer.pid}/children").read_text().split()
        assert children, "the world producer should run in its own process"
        trainer.send_signal(signal.SIGTERM)
        assert trainer.wait(timeout=60) == 0

        def alive(pid: str) -> bool:
            try:
                return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
            except FileNotFoundError:
                return False

        deadline = time.monotonic() + 15  # the resource tracker leaves once its pipe closes
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [pid for pid in children if alive(pid)]
    finally:
        if trainer.poll() is None:
            trainer.kill()


def test_a_frozen_judge_scores_the_generator_and_is_kept_for_resumes(tmp_path: Path) -> None:
    """judge_weight: G is also scored by a time/weather classifier of renders that never learns from
    G; it is kept in the run folder, so a resume reads it back instead of training it again."""
    from studio.eval.judge import Judge

    run = tmp_path / "run"
    run.mkdir()
    torch.manual_seed(0)
    kept = Judge()
    torch.save(kept.state_dict(), run / "judge-7.pt")  # as a first run leaves it (random here: quick)
    before = {k: v.clone() for k, v in kept.state_dict().items()}
    cfg = TrainConfig(
        name="tiny-judge", steps=2, upscaler=None, judge_weight=1.0, judge_seed=7, **TINY, **OASIS
    )
    metrics = train(cfg, run, shipped_embedder())
    assert np.isfinite(metrics["judge_g"]) and metrics["judge_g"] > 0
    after = torch.load(run / "judge-7.pt", weights_only=True)
    assert all(torch.equal(before[k], after[k]) for k in before)  # read, never trained or changed


def test_a_grown_model_carries_its_trunks_steps_in_its_version(tmp_path: Path) -> None:
    """v4 and v5 were both grown with 0 steps of their own: both were 2.1.0, and the default (the
    newest) could not tell them apart."""
    from studio.export.onnx_export import _patch

    (tmp_path / "trunk.json").write_text('{"version": "2.1.9200"}')
    cfg = TrainConfig(name="grown", init=str(tmp_path / "trunk.onnx"), **TINY)
    assert _patch(cfg, {"step": 0}) == 9200
    assert _patch(cfg, {"step": 50}) == 50  # trained after growing: its own steps
    refined = TrainConfig(name="refined", init=str(tmp_path / "trunk.onnx"), freeze_trunk=True, **TINY)
    assert _patch(refined, {"step": 50}) == 9250  # its refinement level trained on the frozen trunk
    (tmp_path / "trunk.json").write_text("not json")
    assert _patch(cfg, {"step": 0}) == 0 and _patch(refined, {"step": 50}) == 50


@pytest.mark.parametrize("plain", [False, True])
def test_the_world_stream_embeds_captions_without_attribute_words_only_when_asked(plain: bool) -> None:
    """text_drop needs the captions' embeddings without their attribute words; every other run's
    producer embeds each caption once and lets the text stand in."""
    from studio.training.data import WorldStream

    stream = WorldStream(16, seed=1, capacity=16, chunk=8, plain=plain).start(min_fill=8)
    try:
        batch = stream.sample(8, np.random.default_rng(0))
    finally:
        stream.stop()
    assert torch.equal(batch["plain"], batch["text"]) is not plain


def test_trunk_loss_holds_the_refined_picture_to_the_trunks_own(tmp_path: Path) -> None:
    """trunk_weight: a frozen-trunk refinement level may add detail finer than a trunk pixel, not
    repaint the picture the encoder, segmenter and judge see at the trunk's size."""
    trunk = torch.rand(2, 3, 8, 8) * 2 - 1
    up = trunk.repeat_interleave(2, 2).repeat_interleave(2, 3)
    checker = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(8, 8) * 0.3
    assert trunk_loss(up + checker, trunk) < 1e-6  # detail within a trunk pixel costs nothing
    assert trunk_loss(up + 0.3, trunk) == pytest.approx(0.3)  # a new tint does
    torch.manual_seed(0)
    G = Generator(8, 4, resolution=16, trunk=8)
    out, low = G(torch.randn(2, 8), torch.randn(2, 384), torch.zeros(2, 11, 16, 16), with_trunk=True)
    assert out.shape == (2, 3, 16, 16) and low.shape == (2, 3, 8, 8)
    cfg = TrainConfig(
        name="tiny-held", steps=2, upscaler=None, trunk_weight=5.0, **{**TINY, **OASIS, "trunk": 8}
    )
    metrics = train(cfg, tmp_path / "run", shipped_embedder())
    assert np.isfinite(metrics["trunk"]) and metrics["trunk"] >= 0


def test_a_consistent_refinement_cannot_repaint_the_trunks_picture(tmp_path: Path) -> None:
    """consistent_refine (or `studio export --consistent`): the output, area-averaged to the trunk's
    size, is the trunk's picture whatever the levels learned; what they add is finer detail."""
    torch.manual_seed(0)
    G = Generator(8, 4, resolution=16, trunk=8, consistent=True)
    for p in G.refine.parameters():  # levels that would repaint the picture
        torch.nn.init.normal_(p, std=0.1)
    labels = torch.zeros(2, 11, 16, 16)
    with torch.no_grad():
        out, low = G(torch.randn(2, 8), torch.randn(2, 384), labels, with_trunk=True)
    assert out.abs().max() < 1  # no clamping: the back-projection alone decides
    assert torch.allclose(torch.nn.functional.avg_pool2d(out, 2), low, atol=1e-5)
    lows = low.repeat_interleave(2, 2).repeat_interleave(2, 3)
    assert (out - lows).abs().mean() > 0.01  # detail is still added

    cfg = TrainConfig(name="tiny-cons", steps=1, upscaler=None, **{**TINY, **OASIS, "trunk": 8})
    train(cfg, tmp_path / "run", shipped_embedder())
    manifest = export_checkpoint(tmp_path / "run" / "checkpoint.pt", tmp_path / "cons", consistent=True)
    assert manifest["training"]["config"]["consistent_refine"] is True
    assert manifest["metrics"]["onnx_parity_max_abs_diff"] < 1e-4
    flat = TrainConfig(name="tiny-flat", steps=1, upscaler=None, **{**TINY, **OASIS})
    train(flat, tmp_path / "flat", shipped_embedder())
    with pytest.raises(ValueError, match="trunk ends below its resolution"):
        export_checkpoint(tmp_path / "flat" / "checkpoint.pt", tmp_path / "x", consistent=True)


def test_export_can_set_a_latent_temperature_an_edge_fill_and_an_upscaler(tmp_path: Path) -> None:
    """`studio export --latent-temperature T --edge-fill PX --upscaler NAME`: chosen with studio eval
    after the run, written to the manifest (which the app reads) and to its recorded config (so the
    export is reproducible)."""
    cfg = TrainConfig(name="tiny-warm", steps=1, upscaler=None, **{**TINY, **OASIS})
    train(cfg, tmp_path / "run", shipped_embedder())
    ckpt = tmp_path / "run" / "checkpoint.pt"
    manifest = export_checkpoint(ckpt, tmp_path / "warm", latent_temperature=2, edge_fill=1, upscaler="sr-b")
    keys = ("latent_temperature", "edge_fill", "upscaler")
    assert [manifest[k] for k in keys] == [2.0, 1, "sr-b"]
    assert [manifest["training"]["config"][k] for k in keys] == [2.0, 1, "sr-b"]
    for bad in (0.5, 5.0):
        with pytest.raises(ValueError, match="from 1 to 4"):
            export_checkpoint(ckpt, tmp_path / "x", latent_temperature=bad)
    with pytest.raises(ValueError, match="resolution / 16"):
        export_checkpoint(ckpt, tmp_path / "x", edge_fill=TINY["resolution"])


def test_a_prior_floor_keeps_the_latent_spread(tmp_path: Path) -> None:
    """`prior_floor`: the text prior's spread of z never narrows below the floor (trained freely it
    narrowed to 0.2–0.3, so seeds barely moved the picture); the exported graph keeps it."""
    torch.manual_seed(0)
    G = Generator(8, 4, resolution=16, prior_floor=0.5)
    torch.nn.init.constant_(G.prior.bias, -8.0)  # a prior that wants to collapse z
    _, _, logvar = G.prior_params(torch.randn(4, 384))
    assert torch.allclose(torch.exp(0.5 * logvar), torch.full_like(logvar, 0.5))
    cfg = TrainConfig(name="tiny-floor", steps=1, upscaler=None, prior_floor=0.5, **{**TINY, **OASIS})
    train(cfg, tmp_path / "run", shipped_embedder())
    manifest = export_checkpoint(tmp_path / "run" / "checkpoint.pt", tmp_path / "floor")
    assert manifest["training"]["config"]["prior_floor"] == 0.5
    assert manifest["metrics"]["onnx_parity_max_abs_diff"] < 1e-4


def test_reflect_padding_starts_from_a_zero_padded_generator_and_exports(tmp_path: Path) -> None:
    """`pad_mode`: every padded convolution of G pads by reflection (zero padding marks the border,
    where the generators drew a frame of lines). The weights do not change, so a zero-padded
    export seeds it; only the border differs, and the exported graph matches torch."""
    cfg = TrainConfig(name="tiny-pad", steps=1, upscaler=None, **{**TINY, **OASIS})
    train(cfg, tmp_path / "zeros", shipped_embedder())
    export_checkpoint(tmp_path / "zeros" / "checkpoint.pt", tmp_path / "zeros-model")
    reflect = TrainConfig.from_dict({**cfg.to_dict(), "pad_mode": "reflect"})
    G, Z = build_generator(reflect), build_generator(cfg)
    for net in (G, Z):
        load_onnx_generator(net, tmp_path / "zeros-model.onnx")
        net.eval()
    convs = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d) and any(m.padding)]
    assert convs and {m.padding_mode for m in convs} == {"reflect"}
    n, r = 2, TINY["resolution"]
    feeds = {
        "z": torch.randn(n, TINY["z_dim"]),
        "text": torch.randn(n, 384),
        "labels": torch.nn.functional.one_hot(torch.randint(0, NUM_CLASSES, (n, r, r)), NUM_CLASSES)
        .permute(0, 3, 1, 2)
        .float(),
    }
    with torch.no_grad():
        a, b = G(**feeds), Z(**feeds)
    inner = (a - b).abs()[..., 4:-4, 4:-4].mean()
    assert (a - b).abs().mean() > inner  # the border is where the padding shows
    train(reflect, tmp_path / "reflect", shipped_embedder())
    manifest = export_checkpoint(tmp_path / "reflect" / "checkpoint.pt", tmp_path / "reflect-model")
    assert manifest["training"]["config"]["pad_mode"] == "reflect"
    assert manifest["metrics"]["onnx_parity_max_abs_diff"] < 1e-4
    with pytest.raises(ValueError, match="pad_mode must be one of"):
        Generator(8, 4, resolution=16, pad_mode="circular")
    grown = Generator(8, 4, resolution=16, trunk=8, pad_mode="reflect", pad_from=16)  # only at 16 px
    modes = {
        part: {m.padding_mode for m in module.modules() if isinstance(m, torch.nn.Conv2d) and any(m.padding)}
        for part, module in (("trunk", grown.blocks), ("refine", grown.refine))
    }
    assert modes == {"trunk": {"zeros"}, "refine": {"reflect"}}
    # trained weights re-exported with another padding (what landscape128_v5v is)
    ckpt = tmp_path / "zeros" / "checkpoint.pt"
    manifest = export_checkpoint(ckpt, tmp_path / "re-padded", pad_mode="replicate", pad_from=8)
    config = manifest["training"]["config"]
    assert (config["pad_mode"], config["pad_from"]) == ("replicate", 8)
    assert manifest["metrics"]["onnx_parity_max_abs_diff"] < 1e-4
    with pytest.raises(ValueError, match="--pad-mode"):
        export_checkpoint(ckpt, tmp_path / "x", pad_mode="circular")


def test_a_layout_distillation_reads_the_sketch_and_stays_near_its_init(tiny_oasis, tmp_path: Path) -> None:
    """layout_weight: a frozen shipped segmenter must read the painted classes in G's picture (a
    render of the sketch costs less than the sketch upside down; layout_readable asks only where
    it reads the render right); anchor_weight holds G to its init's pictures; oasis_weight 0 trains
    no D at all."""
    from studio.training.layout_term import at_reader_size, frozen_segmenter, layout_loss
    from studio.world.scene import render_scenes

    S = frozen_segmenter("segmenter64")
    scenes = render_scenes(2, seed=3, size=64)
    x = torch.from_numpy(scenes.images).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(scenes.labels).long(), NUM_CLASSES)
    target = at_reader_size(S, onehot.permute(0, 3, 1, 2).float())
    assert torch.equal(target, torch.from_numpy(scenes.labels).long())
    assert layout_loss(S, x, target) < layout_loss(S, x, target.flip(1))

    cfg = TrainConfig(
        name="tiny-layout",
        steps=3,
        upscaler=None,
        init=str(tiny_oasis / "tiny-oasis.onnx"),
        **{**TINY, **OASIS, "oasis_weight": 0.0, "d_warmup": 0, "layout_weight": 1.0, "anchor_weight": 5.0},
        layout_readable=True,
    )
    metrics = train(cfg, tmp_path / "run", shipped_embedder())
    assert np.isfinite(metrics["layout"]) and 0 < metrics["anchor"] < 1 and "seg_g" not in metrics
    fresh = build_generator(cfg)
    load_onnx_generator(fresh, Path(cfg.init))
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    moved = [k for k, v in fresh.state_dict().items() if not torch.equal(v, state["G"][k])]
    assert moved and "opt_d" in state and not state["opt_d"]["state"]  # G learned; D never stepped
    with pytest.raises(ValueError, match="give the config an init"):
        train(
            TrainConfig(name="x", steps=1, anchor_weight=1.0, **TINY, **OASIS),
            tmp_path / "bad",
            shipped_embedder(),
        )


def test_edit_rows_move_what_a_sound_moves_and_snow_the_ground_as_its_edit_does() -> None:
    """An edit row is a sound's edit: the attributes some sound implies moved (a blizzard: snowy
    winter), the rest kept, and grass and flowers turned to snow where it brings winter (the layout
    the app paints for a blizzard)."""
    from studio.training.data import ATTRIBUTE_GROUPS
    from studio.training.edit_rows import SOUND_MOVES, brings_winter, edited_attributes, snowed
    from studio.world.classes import CLASS_INDEX
    from studio.world.sounds import SOUND_KINDS

    names = list(ATTRIBUTE_GROUPS)
    implied = {
        tuple(ATTRIBUTE_GROUPS[g].index(k.attributes[g]) if g in k.attributes else -1 for g in names)
        for k in SOUND_KINDS
        if set(k.attributes) & set(names)
    }
    assert {tuple(m) for m in SOUND_MOVES.tolist()} == implied and len(implied) == len(SOUND_MOVES)
    truth = torch.tensor([[0, 0, 0], [6, 4, 1], [2, 6, 3], [4, 1, 2]]).repeat(16, 1)
    moved = edited_attributes(truth, torch.Generator().manual_seed(0))
    each_move = torch.where(SOUND_MOVES[None] >= 0, SOUND_MOVES[None], truth[:, None])  # [N, moves, groups]
    assert (each_move == moved[:, None]).all(2).any(1).all()  # every row: truth with one sound's moves
    assert len({tuple(m) for m in moved.tolist()}) > 8  # many different moves, not one

    classes = torch.tensor([CLASS_INDEX[c] for c in ("grass", "flower", "water", "sky")]).view(1, 2, 2)
    labels = torch.nn.functional.one_hot(classes.expand(2, 2, 2), NUM_CLASSES).permute(0, 3, 1, 2).float()
    rows = brings_winter(torch.tensor([[0, 6, 1], [0, 0, 1]]), torch.tensor([[0, 6, 3], [0, 0, 1]]))
    assert rows.tolist() == [True, False]
    out = snowed(labels, rows).argmax(1)
    assert out[0].flatten().tolist() == [CLASS_INDEX[c] for c in ("snow", "snow", "water", "sky")]
    assert torch.equal(out[1], classes[0])


def test_a_distillation_with_edit_rows_asks_the_judge_for_the_moved_attributes(tiny_oasis, tmp_path) -> None:
    """edit_rate: rows with a sound's moves applied train beside the layout term and the anchor, and
    only the judge scores them; they need a D-free fine-tune, as D would call them mismatched."""
    from studio.eval.judge import Judge

    run = tmp_path / "run"
    run.mkdir()
    torch.manual_seed(0)
    torch.save(Judge().state_dict(), run / "judge-7.pt")  # random here: quick
    common = {**TINY, **OASIS, "d_warmup": 0, "judge_weight": 1.0, "judge_seed": 7, "edit_rate": 1.0}
    cfg = TrainConfig(
        name="tiny-edit",
        steps=2,
        upscaler=None,
        init=str(tiny_oasis / "tiny-oasis.onnx"),
        **{**common, "oasis_weight": 0.0, "layout_weight": 1.0, "anchor_weight": 5.0},
    )
    metrics = train(cfg, run, shipped_embedder())
    assert metrics["judge_g"] > 0 and np.isfinite(metrics["layout"])
    assert metrics["anchor"] == 0  # every row was an edit row: none is held to the init's picture
    with pytest.raises(ValueError, match="D-free"):
        train(TrainConfig(name="x", steps=1, **common), tmp_path / "bad", shipped_embedder())
