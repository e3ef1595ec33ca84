"""Training configuration: one JSON file fully describes a run, so `studio train` reproduces it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

PAD_MODES = ("zeros", "reflect", "replicate")  # a generator's convolution padding (nets.set_padding)


class JsonConfig:
    """from_dict/to_dict for config dataclasses; unknown keys are refused (a typo must not
    silently train with defaults)."""

    @classmethod
    def from_dict(cls, data: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainConfig(JsonConfig):
    name: str = "landscape64"
    kind: str = "generator"  # "generator", "upscaler" or "segmenter"
    resolution: int = 64  # generator output; for upscalers, the *input* resolution
    trunk: int = 0  # generator only: where the trunk ends and ×2 refinement levels begin (0: at resolution)
    freeze_trunk: bool = False  # generator only: train only the refinement levels (StackGAN-style stage II)
    scale: int = 4  # upscaler only
    upscaler: str | None = "landscape_sr"  # generator only: the upscaler its manifest names (same input size)
    z_dim: int = 64
    ngf: int = 16  # generator base channels; a segmenter's first U-Net level
    seg_levels: int = 3  # segmenter only: U-Net levels (4 at 128 px sees as far as 3 at 64 px)
    ndf: int = 32
    batch: int = 16
    steps: int = 20000
    lr_g: float = 2e-4
    lr_d: float = 4e-4
    label_drop: float = 0.5  # share of rows whose sketch becomes "unknown" (text-only)
    encode_fraction: float = 0.5  # share of rows reconstructed through the posterior
    rec_weight: float = 10.0
    kl_weight: float = 0.05
    attr_weight: float = 0.0  # generator only: AC-GAN attribute head on D (0: none, as in landscape64 1.x)
    disc: str = "global"  # generator only: "global" (one score per picture) or "oasis" (per-pixel classes)
    attributes: bool = False  # generator only: a time/weather/season input beside the text
    attr_drop: float = 0.3  # share of attribute groups given to G as "unknown" (text alone must do)
    noise: bool = False  # generator only: a per-pixel noise input reaching every block
    upsample: str = "nearest"  # generator trunk's ×2 resize; "bilinear" keeps 8-px squares out of the skips
    global_weight: float = 1.0  # oasis only: weight of the picture-level text-match hinge
    fresh_lr_mult: float = 1.0  # oasis only: learning-rate factor of G's parts that start at zero
    d_warmup: int = 0  # oasis only: steps that train D alone first (a fresh D beside an --init G)
    lowfreq_weight: float = 0.0  # oasis only: L1 of 8×8 means where sketch and attributes are all given
    diversity_weight: float = 0.0  # oasis only: reward two seeds of one condition for differing (DSGAN)
    diversity_cap: float = 0.15  # oasis only: mean |Δpixel| beyond which seeds are different enough
    consistent_refine: bool = False  # oasis only: output area-averaged to the trunk size = trunk's picture
    trunk_weight: float = 0.0  # oasis only: L1 of the output, area-averaged to the trunk size, vs the trunk
    judge_weight: float = 0.0  # oasis only: a frozen time/weather classifier of renders scores G
    edit_rate: float = 0.0  # oasis only: share of rows given a sound's attribute moves (edit_rows.py)
    layout_weight: float = 0.0  # oasis only: a frozen shipped segmenter must read the painted classes
    layout_model: str = "segmenter64"  # oasis only: that segmenter (studio/training/layout_term.py)
    layout_readable: bool = False  # oasis only: ask only for pixels the segmenter reads right in the render
    anchor_weight: float = 0.0  # oasis only: L1 to the init generator's picture of the same inputs
    oasis_weight: float = 1.0  # oasis only: weight of D's terms for G; 0 trains no D (a distillation)
    attribute_wording: bool = False  # export only: the app also says the given attributes in training words
    attribute_gain: float = 1.0  # export only: the app feeds the given attributes times this (guidance)
    latent_temperature: float = 1.0  # export only: the app feeds z times this (wider seeds and sliders)
    edge_fill: int = 0  # export only: the app mirrors the interior over this many border pixels
    prior_floor: float = 0.0  # oasis only: the text prior's spread of z never narrows below this
    pad_mode: str = "zeros"  # oasis only: convolution padding ("reflect" leaves no frame at the border)
    pad_from: int = 0  # oasis only: pad_mode reaches convolutions working at this many px or more
    text_drop: float = 0.0  # oasis only: share of fully-given rows whose caption loses its attribute words
    judge_seed: int = 31_000  # its renders' seed: apart from studio eval's judge (10,000) and the data stream
    magp_weight: float = 2.0
    magp_every: int = 4  # lazy regularisation
    ema_beta: float = 0.999
    adv_weight: float = 0.0  # upscaler only: SRGAN adversarial term; 0 trains with L1 + Sobel alone
    adv_start: int = 0  # upscaler only: step the adversarial term starts (after an L1 pretraining)
    input_noise: float = 0.02  # upscaler only: Gaussian noise on its inputs (teaches it to denoise them)
    input_blur: float = 0.0  # upscaler only: inputs blurred by a Gaussian of sigma up to this (px)
    seed: int = 0
    threads: int = 2
    ring_capacity: int = 4096
    snapshot_every: int = 200
    sample_every: int = 200
    data: str | None = None  # a folder of captioned images; None streams the procedural world
    init: str | None = None  # generator or upscaler: an .onnx of its kind a fresh run starts from
    init_refine: str | None = None  # generator only: an .onnx whose refinement levels (refine.*) fill ours
    # captioner only (kind "captioner": studio/training/captioner.py; lr_g is its learning rate)
    cap_width: int = 32  # CNN encoder base channels
    cap_embed: int = 64  # word embedding width
    cap_hidden: int = 256  # GRU state width (also the image context fed at every word)
    cap_bank: int = 3000  # rendered scenes held in memory
    cap_captions: int = 8  # training-wording captions drawn per scene
    cap_refresh: int = 1  # bank scenes replaced by fresh renders per step
    cap_max_tokens: int = 24  # longest caption in words
    cap_warmup: int = 200  # steps of linear learning-rate warm-up, then cosine to 10 %

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        data = json.loads(Path(path).read_text())
        return cls.from_dict(data)
