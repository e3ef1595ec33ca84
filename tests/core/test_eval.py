"""`studio eval` on a real (tiny) generator through onnxruntime: the report has every number."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from studio.eval.judge import GROUPS, train_judge  # noqa: E402
from studio.eval.run import evaluate, format_table  # noqa: E402
from studio.world.scene import render_scenes  # noqa: E402


def test_judge_learns_time_of_day_from_renders():
    judge = train_judge(n_images=600, steps=150)
    scenes = render_scenes(200, seed=99_000, size=64)
    accuracy = judge.accuracy(scenes.images, scenes.attributes)
    assert accuracy["time"] > 0.4  # 7 classes: chance is 0.14


def test_evaluate_reports_accuracy_and_diversity(pipeline):
    result = evaluate(pipeline, "tiny-gen", n=4, judge_steps=3, judge_images=64)
    for key in ("judge_on_real_renders", "text_only", "text_and_sketch"):
        assert set(result[key]) == set(GROUPS) and all(0 <= v <= 1 for v in result[key].values())
    assert np.isfinite(result["diversity_pixel_std"])
    assert "text_only" in format_table(result)
