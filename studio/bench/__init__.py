"""`studio bench`: speed figures measured side by side in one run (never asserted in tests).

Live figures are what the app's worker does per frame: paint = one generator run with the
painted sketch at preview quality (no upscaler), sound = log-mel + sound encoder on the last 2 s
+ blend + one generator run. Frames/s is 1000 / median ms of repeated runs. Compute figures
(GMACs, share of the measured matmul peak, ORT vs torch eager on the same weights) are CPU-only:
see studio.bench.compute.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np

from studio.bench.compute import compute_rows, format_compute
from studio.inference.pipeline import MemoryAssets, Pipeline
from studio.inference.sketch import index_png
from studio.inference.sound_pin import pin_of


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    run()  # warm-up: first runs allocate
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def bench(
    pipe: Pipeline,
    repeat: int = 10,
    size: int = 128,
    compute: bool = True,
    sizes: tuple[int, ...] = (),
    batches: tuple[int, ...] = (1, 8),
) -> dict:
    """Per generator: ms/image at each batch (full quality) at `size` and any extra `sizes` (the
    GPU proof asks for 128/256/512 px at batch 1 and 64), and live paint/sound frames/s."""
    cold = time.perf_counter()
    info = pipe.default_generator()
    pipe.warm_up(info.name)
    pipe.render(pipe.recipes_for("a lake at dawn", count=1, model=info.name, size=size))
    result: dict = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "provider": pipe.provider,
        "cold_start_to_first_image_ms": round((time.perf_counter() - cold) * 1000.0, 1),
        "size": size,
        "models": {},
    }
    for gen in pipe.generators():
        row: dict = {}
        for px in dict.fromkeys((size, *sizes)):
            tag = "" if px == size else f"_{px}px"
            for batch in batches:
                recipes = pipe.recipes_for(
                    "a misty lake under snowy mountains", count=batch, model=gen.name, size=px
                )
                row[f"ms_per_image{tag}_batch{batch}"] = round(
                    _median_ms(lambda r=recipes: pipe.render(r), repeat) / batch, 2
                )
        row.update(_live(pipe, gen.name, repeat, size))
        result["models"][gen.name] = row
    if compute:
        paths = [m.path for m in pipe.registry.models()]
        result["compute"] = compute_rows(paths, repeat=max(1, repeat // 2))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def _live(pipe: Pipeline, model: str, repeat: int, size: int) -> dict:
    info = pipe.registry.get(model)
    res = info.resolution or 64
    assets = MemoryAssets()
    labels = np.ones((res, res), np.uint8)
    labels[res // 2 :] = 6
    sketch = assets.put(index_png(labels), "png")
    recipe = pipe.recipes_for("a lake under mountains", count=1, model=model, size=size)[0].replace(
        sketch=sketch
    )
    paint_ms = _median_ms(lambda: pipe.render([recipe], assets, preview=True), repeat)
    row = {"live_paint_ms": round(paint_ms, 2), "live_paint_fps": round(1000.0 / paint_ms, 1)}
    try:
        rate = pipe.sound_rate(info)
    except Exception:  # no sound encoder installed: no sound figure
        return row
    window = np.random.default_rng(0).standard_normal(2 * rate).astype(np.float32) * 0.1

    def sound_frame() -> None:  # as the worker does it for each live frame
        pipe.render([pipe.live_sound(recipe, window, 0.7)], assets, preview=True)

    sound_ms = _median_ms(sound_frame, repeat)
    heard_by = pin_of(pipe.audio_encoder_for(info))  # the newest: the one live sound uses
    row.update(
        {
            "live_sound_ms": round(sound_ms, 2),
            "live_sound_fps": round(1000.0 / sound_ms, 1),
            "live_sound_encoder": heard_by,
        }
    )
    return row


def make_big_project(folder: Path, nodes: int) -> float:
    """A project of `nodes` generated-looking nodes (tiny PNGs, branching), written with fsync off
    so building it does not dominate; returns the seconds it took."""
    from studio.pngmeta import encode_png
    from studio.project.store import Project
    from studio.recipe import Recipe

    pngs = [encode_png(np.full((32, 32, 3), i * 20, np.uint8), None) for i in range(8)]
    start = time.perf_counter()
    with mock.patch.object(os, "fsync", lambda fd: None):
        project = Project.open(folder)
        parents: list[str] = []
        for i in range(nodes):
            recipe = Recipe(model="landscape64", model_version="1", seed=i, prompt=f"a lake {i % 97}")
            parent = [parents[(i * 7919) % len(parents)]] if parents and i % 5 else []
            node = project.add_node(kind="generate", recipe=recipe, image_png=pngs[i % 8], parents=parent)
            parents.append(node.id)
        project.close()
    return time.perf_counter() - start


def bench_project_open(nodes: int = 10_000) -> dict:
    """Open a generated project of `nodes` nodes (only the open is timed)."""
    from studio.project.store import Project

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "big"
        built = make_big_project(folder, nodes)
        start = time.perf_counter()
        project = Project.open(folder)
        count = len(project.nodes())
        opened = time.perf_counter() - start
        project.close()
    return {"nodes": count, "open_s": round(opened, 3), "build_s_without_fsync": round(built, 1)}


def format_bench(result: dict) -> str:
    lines = [
        f"provider {result['provider']}, {result['size']} px, cold start to first image "
        f"{result['cold_start_to_first_image_ms']:.0f} ms, peak RSS {result['peak_rss_mb']:.0f} MB"
    ]
    for name, row in result["models"].items():
        parts = [f"{k} {v}" for k, v in row.items()]
        lines.append(f"{name}: " + ", ".join(parts))
    if "compute" in result:
        lines += format_compute(result["compute"])
    if "project_open" in result:
        p = result["project_open"]
        lines.append(f"project of {p['nodes']} nodes opens in {p['open_s']:.2f} s")
    if "ui" in result:
        lines.append(format_ui(result["ui"]))
    return "\n".join(lines)


def format_ui(ui: dict) -> str:
    if "error" in ui:
        return f"UI figures: not measured ({ui['error']})"
    opened, scroll, beat = ui["project_open"], ui["history_scroll"], ui["ui_heartbeat_largest_gap"]
    return "\n".join(
        [
            f"UI: {opened['nodes']}-node project open to history shown "
            f"{opened['open_to_history_shown_s']:.2f} s at app start (store {opened['store_open_s']:.2f} s), "
            f"{opened['reopen_in_running_app_s']:.2f} s with File ▸ Open in a running app; "
            f"scrolling {scroll['pages']} pages: median "
            f"{scroll['ms_per_page_median']:.1f} ms, max {scroll['ms_per_page_max']:.0f} ms per page",
            "UI heartbeat largest gap: "
            + ", ".join(f"{k.removesuffix('_ms').replace('_', ' ')} {v:.0f} ms" for k, v in beat.items()),
        ]
    )


def bench_ui(nodes: int) -> dict:
    """The window's figures (ui/bench.py) from a subprocess: the core never imports Qt itself."""
    if getattr(sys, "frozen", False):
        return {"error": "run from a source checkout: the installed app has no Python to start ui.bench"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ui.json"
        done = subprocess.run(
            [sys.executable, "-m", "ui.bench", "--nodes", str(nodes), "--json", str(out)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not out.exists():
            return {"error": (done.stderr.strip().splitlines() or ["ui.bench failed"])[-1]}
        return json.loads(out.read_text())
