"""`studio train` and `studio export`: the torch side of the CLI (needs the `train` extra)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from studio.errors import CommandError


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CommandError("training needs torch: pip install -e '.[train]'") from None


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a generator or upscaler (torch; runs under torchrun too)")
    p.add_argument("--config", type=Path, required=True, help="JSON config, e.g. configs/landscape64.json")
    p.add_argument("--data", type=Path, help="folder of images; captions from sidecar .txt or file names")
    p.add_argument("--out", type=Path, help="run folder (default runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    p.add_argument("--steps", type=int, help="override the config's total steps")
    p.add_argument(
        "--init", type=Path, help="a generator or upscaler .onnx to start from (fine-tune a shipped model)"
    )
    p.add_argument("--data-a", type=Path, help="translator configs: pictures of the first domain")
    p.add_argument("--data-b", type=Path, help="translator configs: pictures of the second domain")
    p.set_defaults(run=run_train)


class _ProgressBar:
    """One self-rewriting line on stderr: step, rate, losses, time left."""

    def __init__(self) -> None:
        self.start = time.time()
        self.first: int | None = None  # a resumed run starts counting here, not at 0

    def __call__(self, step: int, total: int, metrics: dict[str, float]) -> None:
        if self.first is None:
            self.first = step - 1
        rate = (step - self.first) / max(1e-6, time.time() - self.start)
        left = (total - step) / max(rate, 1e-6)
        filled = int(30 * step / max(1, total))
        losses = " ".join(f"{k}={v:.3g}" for k, v in metrics.items())
        print(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {step}/{total} {losses} ~{left / 60:.0f} min left",
            end="",
            file=sys.stderr,
        )
        if step == total:
            print(file=sys.stderr)


def run_train(args: argparse.Namespace) -> int:
    if args.config.is_file() and _config_kind(args.config) == "layout_prior":
        return _build_layout_prior(args)  # rendering and embedding only: no torch
    _require_torch()
    from studio.training.config import TrainConfig
    from studio.training.run import run_training, stop_on_terminate

    if args.data is not None and not args.data.is_dir():
        raise CommandError(f"--data {args.data} is not a folder")
    if args.init is not None and not args.init.is_file():
        raise CommandError(f"--init {args.init} is not a file")
    if not args.config.is_file():
        raise CommandError(f"no config file at {args.config}")
    kind = _config_kind(args.config)
    if kind == "translator":  # unpaired picture → picture (studio translate)
        from studio.cli.translate import train_translator_command

        return train_translator_command(args, _ProgressBar())
    if args.data_a is not None or args.data_b is not None:
        raise CommandError(f"--data-a/--data-b are for translator configs; {args.config} trains a {kind}")
    if kind in ("sound_encoder", "image_encoder"):
        return _train_encoder(args, kind)
    try:
        cfg = TrainConfig.load(args.config)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"bad config {args.config}: {exc}") from exc
    if args.init is not None and cfg.kind not in ("generator", "upscaler"):
        raise CommandError(
            f"--init starts a generator or an upscaler from an .onnx; {args.config} trains a {cfg.kind}"
        )
    if args.data is not None and cfg.kind == "captioner":
        raise CommandError(
            "the captioner trains on the procedural world's captions; --data is for generators"
        )
    result = run_training(
        cfg,
        args.out,
        data=args.data,
        resume=args.resume,
        steps=args.steps,
        progress=_ProgressBar(),
        init=args.init,
        should_stop=stop_on_terminate(),
    )
    print(json.dumps(result))
    return 0


def _config_kind(path: Path) -> str:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"bad config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError(f"bad config {path}: not a JSON object")
    return str(data.get("kind", "generator"))


def _build_layout_prior(args: argparse.Namespace) -> int:
    from studio.export.layout_prior import LayoutConfig, build_layout_prior
    from studio.inference.pipeline import Pipeline

    if args.data is not None or args.resume or args.steps is not None:
        raise CommandError(
            "a layout prior is built from the procedural world in one go: no --data/--resume/--steps"
        )
    try:
        cfg = LayoutConfig.from_dict(json.loads(args.config.read_text()))
    except (ValueError, TypeError) as exc:
        raise CommandError(f"bad config {args.config}: {exc}") from exc
    manifest = build_layout_prior(cfg, args.out or Path("runs") / cfg.name, Pipeline(device="cpu"))
    print(json.dumps(manifest["metrics"]))
    return 0


def _train_encoder(args: argparse.Namespace, kind: str) -> int:
    """Sound and image encoders train on the procedural world's own captions: --data does not apply."""
    from studio.training.run import shipped_embedder

    if kind == "sound_encoder":
        from studio.training.sound_encoder import SoundConfig as Config
        from studio.training.sound_encoder import train_sound_encoder as train
    else:
        from studio.training.image_encoder import ImageConfig as Config
        from studio.training.image_encoder import train_image_encoder as train
    if args.data is not None:
        raise CommandError(
            f"the {kind.replace('_', ' ')} trains on the procedural world; --data is for generators"
        )
    try:
        cfg = Config.from_dict(json.loads(args.config.read_text()))
    except (ValueError, TypeError) as exc:
        raise CommandError(f"bad config {args.config}: {exc}") from exc
    if args.steps is not None:
        cfg.steps = args.steps
    out = args.out or Path("runs") / cfg.name
    result = train(cfg, out, shipped_embedder(), resume=args.resume, progress=_ProgressBar())
    print(json.dumps(result))
    return 0


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a training checkpoint to ONNX with its manifest")
    p.add_argument("checkpoint", type=Path, help="runs/NAME/checkpoint.pt")
    p.add_argument("-o", "--output", type=Path, required=True, help="e.g. exported_models/NAME")
    p.add_argument("--license", default="MIT", help="license recorded in the manifest")
    p.add_argument(
        "--consistent",
        action="store_true",
        help="generator with refinement levels: its picture area-averaged to the trunk size is the trunk's",
    )
    p.add_argument(
        "--latent-temperature",
        type=float,
        metavar="T",
        help="generator: the app feeds z times T (1 to 4; measure it with studio eval first)",
    )
    p.add_argument(
        "--edge-fill",
        type=int,
        metavar="PX",
        help="generator: the app mirrors the interior over this many border pixels (its frame of lines)",
    )
    p.add_argument("--upscaler", metavar="NAME", help="generator: the upscaler its manifest names")
    p.add_argument(
        "--pad-mode",
        choices=("zeros", "reflect", "replicate"),  # = training PAD_MODES; the bundle has no studio.training
        help="generator: its convolutions' padding (reflect draws no frame of lines at the border)",
    )
    p.add_argument(
        "--pad-from", type=int, metavar="PX", help="generator: --pad-mode reaches convolutions at PX or more"
    )
    p.set_defaults(run=run_export)


def add_fp16(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fp16", help="write an fp16 twin of an exported model for GPUs (if parity holds)")
    p.add_argument("manifest", type=Path, help="e.g. exported_models/landscape64.json")
    p.set_defaults(run=run_fp16)


def add_export_text(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-text", help="export the text encoder (all-MiniLM-L6-v2) to ONNX, int8 if it stays faithful"
    )
    p.add_argument("-o", "--output", type=Path, default=Path("exported_models"), help="models folder")
    p.add_argument("--fp32", action="store_true", help="ship fp32 (no weight-only int8)")
    p.add_argument("--check", type=int, default=1000, help="captions the cosine to fp32 is measured on")
    p.set_defaults(run=run_export_text)


def run_export_text(args: argparse.Namespace) -> int:
    _require_torch()
    from studio.export.text_encoder import export_text_encoder

    if args.check < 10:
        raise CommandError("--check needs at least 10 captions")
    print(json.dumps(export_text_encoder(args.output, quantize=not args.fp32, n_check=args.check), indent=2))
    return 0


def run_fp16(args: argparse.Namespace) -> int:
    try:
        from studio.export.fp16 import Fp16Error, add_fp16_twin
    except ImportError as exc:
        raise CommandError(f"fp16 export needs the train extra: pip install -e '.[train]' ({exc})") from None
    if not args.manifest.is_file():
        raise CommandError(f"no manifest at {args.manifest}")
    try:
        entry = add_fp16_twin(args.manifest)
    except Fp16Error as exc:
        raise CommandError(str(exc)) from exc
    print(json.dumps(entry))
    return 0


def run_export(args: argparse.Namespace) -> int:
    _require_torch()
    from studio.export.onnx_export import export_checkpoint
    from studio.training.loop import load_checkpoint

    if not args.checkpoint.is_file():
        raise CommandError(f"no checkpoint at {args.checkpoint}")
    state = load_checkpoint(args.checkpoint)
    if state.get("kind") == "translator":
        from studio.cli.translate import export_translator_command

        manifest = export_translator_command(state, args)
    elif state.get("kind") == "sound_encoder":
        from studio.export.sound_export import export_sound_encoder
        from studio.training.run import shipped_embedder

        manifest = export_sound_encoder(state, args.output, shipped_embedder(), license_=args.license)
        print(json.dumps(manifest["metrics"]))
    elif state.get("kind") == "image_encoder":
        from studio.export.image_export import export_image_encoder
        from studio.training.run import shipped_embedder

        manifest = export_image_encoder(state, args.output, shipped_embedder(), license_=args.license)
        print(json.dumps(manifest["metrics"]))
    else:
        try:
            manifest = export_checkpoint(
                args.checkpoint,
                args.output,
                license_=args.license,
                consistent=args.consistent,
                latent_temperature=args.latent_temperature,
                edge_fill=args.edge_fill,
                upscaler=args.upscaler,
                pad_mode=args.pad_mode,
                pad_from=args.pad_from,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    print(
        f"wrote {args.output.with_suffix('.onnx')} (parity max abs diff "
        f"{manifest['metrics']['onnx_parity_max_abs_diff']:.2e}) and its manifest"
    )
    return 0


def add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="judge a generator on held-out prompts (attribute accuracy, diversity)")
    p.add_argument("model", help="generator name, e.g. landscape64")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    p.add_argument("-n", type=int, default=128, help="held-out prompts to render")
    p.set_defaults(run=run_eval)


def add_sheet(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sheet", help="contact sheet: prompts × seeds for each generator beside the world's renders"
    )
    p.add_argument("models", nargs="+", help="generator names, e.g. landscape128 landscape128_old")
    p.add_argument("-o", "--output", type=Path, required=True, help="output PNG")
    p.add_argument("--size", type=int, default=256, help="render size as the app shows it (default 256)")
    p.set_defaults(run=run_sheet)


def run_sheet(args: argparse.Namespace) -> int:
    _require_torch()  # a developer tool beside `studio eval`: the app bundle leaves studio.eval out
    from studio.eval.sheet import model_sheet
    from studio.inference.pipeline import Pipeline

    args.output.write_bytes(model_sheet(Pipeline(device="cpu"), args.models, size=args.size))
    print(args.output)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    _require_torch()
    from studio.eval.run import evaluate, format_table
    from studio.inference.pipeline import Pipeline

    result = evaluate(Pipeline(device="cpu"), args.model, n=args.n)
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
