"""`studio bench` produces its figures on real models (values are never asserted: machines are noisy)."""

from __future__ import annotations

import argparse

import pytest

from studio.bench import bench, format_bench
from studio.cli.bench import _ints
from studio.inference.pipeline import Pipeline


def test_bench_times_every_size_and_batch(pipeline: Pipeline) -> None:
    result = bench(pipeline, repeat=1, size=32, compute=False, sizes=(16, 32), batches=(1, 3))
    row = result["models"]["tiny-gen"]
    for key in (
        "ms_per_image_batch1",
        "ms_per_image_batch3",
        "ms_per_image_16px_batch1",
        "ms_per_image_16px_batch3",
    ):
        assert row[key] > 0
    assert "ms_per_image_32px_batch1" not in row  # the main size is not timed twice
    assert row["live_paint_fps"] > 0 and result["provider"] in format_bench(result)


def test_size_and_batch_lists_are_checked() -> None:
    assert _ints("128,256, 512") == (128, 256, 512)
    for bad in ("", "a,b", "0,64"):
        with pytest.raises(argparse.ArgumentTypeError):
            _ints(bad)
