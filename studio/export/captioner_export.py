"""Export a captioner: NAME.onnx (image → hidden, context), NAME.decoder.onnx (one word) + manifest.

numpy drives the word loop at runtime (`studio.describe.decode`), so the decoder is exported as a
single step; both graphs are checked against torch on the same inputs. The manifest's metrics
are measured through the exported files and the app's own resize and decoding
(`studio.describe.captioner.Captioner`) on held-out renders, so they are what the app gets.
"""

from __future__ import annotations

import json
import logging
import platform
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from studio.describe.vocab import Vocabulary
from studio.export.onnx_export import OPSET, tensor_spec
from studio.hashing import sha256_file
from studio.inference.manifest import DECODER_SUFFIX, parse_manifest
from studio.training.captioner import CaptionNet, build_captioner
from studio.training.config import TrainConfig

log = logging.getLogger(__name__)
HELDOUT = 200


class _Encoder(torch.nn.Module):
    def __init__(self, net: CaptionNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.encode(image)


class _Step(torch.nn.Module):
    def __init__(self, net: CaptionNet) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, token: torch.Tensor, hidden: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.step(token, hidden, context)


def _export(module: torch.nn.Module, inputs: tuple, path: Path, names: list[str], outputs: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(
            module,
            inputs,
            str(path),
            input_names=names,
            output_names=outputs,
            dynamic_axes={n: {0: "N"} for n in [*names, *outputs]},
            opset_version=OPSET,
            dynamo=False,
        )


def _parity(module: torch.nn.Module, inputs: tuple, names: list[str], path: Path) -> float:
    """Max abs difference over every output between torch eager and onnxruntime CPU."""
    with torch.no_grad():
        expected = [t.numpy() for t in module(*inputs)]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})
    diff = max(float(np.abs(e - g).max()) for e, g in zip(expected, got, strict=True))
    if diff > 1e-3:
        raise RuntimeError(f"ONNX parity check failed for {path.name}: max abs diff {diff:.3g} > 1e-3")
    return diff


def load_captioner(state: dict) -> tuple[CaptionNet, TrainConfig, Vocabulary]:
    """The network, config and vocabulary of a captioner snapshot (eval mode)."""
    cfg = TrainConfig.from_dict(state["config"])
    vocab = Vocabulary(tuple(state["vocab"]["words"]))
    net = build_captioner(cfg, len(vocab))
    net.load_state_dict(state["net"])
    return net.eval(), cfg, vocab


def export_captioner(state: dict, out: Path, license_: str = "MIT", heldout: int = HELDOUT) -> dict:
    """Write OUT.onnx, OUT.decoder.onnx and OUT.json from a captioner snapshot; returns the manifest."""
    from studio.describe.captioner import Captioner
    from studio.eval.describe import heldout_scores

    net, cfg, vocab = load_captioner(state)
    out.parent.mkdir(parents=True, exist_ok=True)
    r, h = cfg.resolution, cfg.cap_hidden
    encoder_path, decoder_path = out.with_suffix(".onnx"), out.with_name(out.name + DECODER_SUFFIX)
    image = torch.rand(2, 3, r, r) * 2 - 1
    # eval() on the wrappers too: the exporter restores the wrapper's mode, recursively, afterwards
    encoder, step = _Encoder(net).eval(), _Step(net).eval()
    _export(encoder, (image,), encoder_path, ["image"], ["hidden", "context"])
    with torch.no_grad():
        hidden, context = net.encode(image)
    step_inputs = (torch.tensor([1, 5], dtype=torch.int64), hidden, context)
    names = ["token", "hidden", "context"]
    _export(step, step_inputs, decoder_path, names, ["logprobs", "next_hidden"])
    diff = max(
        _parity(encoder, (image,), ["image"], encoder_path),
        _parity(step, step_inputs, names, decoder_path),
    )
    wall = float(state["wall_s"])
    manifest = {
        "name": out.name,
        "version": f"1.0.{state['step']}",
        "kind": "captioner",
        "description": "Picture → caption (Show and Tell: CNN encoder, GRU decoder; greedy or beam "
        "search in numpy over the decoder step), trained on the procedural world's training wording.",
        "sha256": sha256_file(encoder_path),
        "license": license_,
        "resolution": r,
        "max_tokens": cfg.cap_max_tokens,
        "vocabulary": list(vocab.words),
        "inputs": [tensor_spec("image", ["N", 3, r, r], "RGB in [-1, 1], area-resized")],
        "outputs": [
            tensor_spec("hidden", ["N", h], "the decoder's first state"),
            tensor_spec("context", ["N", h], "image vector fed beside every word"),
        ],
        "decoder": {
            "file": decoder_path.name,
            "sha256": sha256_file(decoder_path),
            "inputs": [
                tensor_spec("token", ["N"], "previous word id (<bos> = 1 first)", "int64"),
                tensor_spec("hidden", ["N", h], "state after the previous word"),
                tensor_spec("context", ["N", h], "the encoder's image vector"),
            ],
            "outputs": [
                tensor_spec("logprobs", ["N", len(vocab)], "log-probability of each vocabulary word next"),
                tensor_spec("next_hidden", ["N", h], "state after this word"),
            ],
        },
        "training": {
            "config": cfg.to_dict(),
            "data": "studio.world.scene renders (train split), a bank of cap_bank scenes with "
            f"{cfg.cap_captions} training-wording captions each, cap_refresh fresh renders per step, "
            "augmented per batch (shift, flip, blur, noise)",
            "seed": cfg.seed,
            "steps": state["step"],
            "images_seen": state["seen"],
            "wall_time_s": round(wall, 1),
            "cpu_hours": round(wall * cfg.threads / 3600, 3),
            "hardware": f"{platform.machine()} CPU × {cfg.threads} threads, torch {torch.__version__}",
            "final_losses": state.get("metrics", {}),
            "reproduce": f"studio train --config configs/{cfg.name}.json",
        },
        "metrics": {"onnx_parity_max_abs_diff": diff},
    }
    manifest_path = out.with_suffix(".json")
    info = parse_manifest(manifest_path, manifest)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = {
        p: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
        for p in (encoder_path, decoder_path)
    }
    if heldout > 0:
        captioner = Captioner(sessions, info)
        manifest["metrics"]["heldout_renders"] = heldout_scores(captioner.captions, n=heldout, size=r)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("exported %s + %s (parity %.2e)", encoder_path, decoder_path.name, diff)
    return manifest
