"""`studio bench [--json out.json]`: speed figures of the installed models on this machine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure ms/image and live frames/s of the installed models")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--repeat", type=int, default=10, help="timed runs per figure (median; default 10)")
    p.add_argument("--size", type=int, default=128, help="image size in pixels (default 128)")
    p.add_argument(
        "--sizes", type=_ints, default=(), help="more sizes to time, e.g. 256,512 (GPU proof: 128,256,512)"
    )
    p.add_argument(
        "--batches", type=_ints, default=(1, 8), help="batch sizes to time (default 1,8; GPU: 1,64)"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="compute device")
    p.add_argument(
        "--project-nodes", type=int, default=10_000, help="nodes of the generated project (0: skip)"
    )
    p.add_argument(
        "--no-compute",
        action="store_true",
        help="skip GMACs per image, share of the measured peak and onnxruntime vs torch eager (CPU)",
    )
    p.add_argument(
        "--ui",
        action="store_true",
        help="also open a project of --project-nodes nodes in the real window (offscreen): open time, "
        "scrolling, and the largest UI heartbeat gap while generating, painting and live sound",
    )
    p.set_defaults(run=run_bench)


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def run_bench(args: argparse.Namespace) -> int:
    from studio.bench import bench, bench_project_open, bench_ui, format_bench
    from studio.inference.pipeline import Pipeline

    pipe = Pipeline(device=args.device)
    result = bench(
        pipe,
        repeat=max(1, args.repeat),
        size=args.size,
        compute=not args.no_compute,
        sizes=args.sizes,
        batches=args.batches,
    )
    if args.project_nodes > 0:
        result["project_open"] = bench_project_open(args.project_nodes)
    if args.ui:
        result["ui"] = bench_ui(max(1, args.project_nodes))
    print(format_bench(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
