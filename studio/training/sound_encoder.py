"""The sound encoder: a small CNN on log-mel trained so a clip lands near its caption's text embedding.

Lee et al. (2022) align audio with CLIP's text space; we align with the app's own MiniLM space,
so a sound's embedding can be blended straight into a generator's text conditioning. The loss
is a symmetric InfoNCE over the batch where every pair of clips with the same sound kinds counts
as a positive (captions of one kind are near-duplicates, not negatives), plus a cosine pull to
the clip's own caption.

Training clips come from a bank of procedurally synthesised sounds (`studio.world.sounds`),
re-cut into random windows, re-gained and mixed on the fly so the net never sees the same input
twice. With `real_dir` (a folder built by `studio sounds fetch`), `real_share` of the rows are
windows of real recordings from its train/ split — a kind drawn uniformly, then a clip of it,
since long files give many clips of one kind — captioned afresh each time; the held-out split
is never read (`studio.audio.real_set.training_clips` refuses it). With `augment` > 0 every row
passes through capture augmentation (`studio.training.audio_augment`: EQ, background, room,
noise bed, low-rate microphone, clipping), each step with that probability.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.audio.io import SAMPLE_RATE
from studio.training.audio_augment import augment
from studio.training.audio_features import log_mel_torch
from studio.training.config import JsonConfig
from studio.training.contrastive import Progress, contrastive_loss, conv_block, train_aligned
from studio.world.sound_captions import make_sound_caption
from studio.world.sounds import synth_clip

log = logging.getLogger(__name__)
MEL_OFFSET, MEL_SCALE = 6.0, 4.0  # log-mel of world sounds spans about -14..+4: centre it near 0


@dataclass
class SoundConfig(JsonConfig):
    """One JSON file describes a run (`studio train --config configs/sound_encoder.json`)."""

    name: str = "sound_encoder"
    kind: str = "sound_encoder"
    width: int = 16
    dim: int = 384
    window_seconds: float = 2.0
    clip_seconds: float = 4.0
    bank_size: int = 1200
    mix_share: float = 0.3
    batch: int = 48
    steps: int = 600
    lr: float = 2e-3
    temperature: float = 0.07
    seed: int = 0
    threads: int = 1
    snapshot_every: int = 100
    real_dir: str | None = None  # `studio sounds fetch` folder ("default": its default place); train/ only
    real_share: float = 0.5  # with real_dir: share of rows that are real recordings
    augment: float = 0.0  # probability of each capture-augmentation step per row (0: none)
    band_norm: bool = False  # also feed each mel band minus its mean over the window (see SoundEncoder)


class SoundEncoder(nn.Module):
    """log-mel [N, 64, F] → unit vector [N, dim]; pooled over time so any clip length works.

    With `band_norm` a second input channel holds each mel band minus its mean over the window
    (cepstral mean normalisation): a microphone's or a room's fixed colouring shifts whole bands
    and cancels there, so the net can tell sounds by how they move rather than by their EQ,
    which is what differs most between synthesised and real recordings."""

    def __init__(self, width: int = 16, dim: int = 384, band_norm: bool = False) -> None:
        super().__init__()
        self.band_norm = band_norm
        self.features = nn.Sequential(
            conv_block(2 if band_norm else 1, width),
            conv_block(width, 2 * width),
            conv_block(2 * width, 4 * width),
            conv_block(4 * width, 8 * width),
        )
        self.head = nn.Sequential(nn.Linear(16 * width, 512), nn.ReLU(inplace=True), nn.Linear(512, dim))

    @classmethod
    def from_config(cls, cfg: SoundConfig) -> SoundEncoder:
        """The net a run's config describes: training, export and bench build it the same way."""
        return cls(cfg.width, cfg.dim, cfg.band_norm)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = ((mel - (-MEL_OFFSET)) / MEL_SCALE).unsqueeze(1)
        if self.band_norm:
            x = torch.cat([x, x - x.mean(dim=3, keepdim=True)], dim=1)
        x = self.features(x).mean(dim=2)  # [N, C, T]: frequency pooled
        pooled = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
        return F.normalize(self.head(pooled), dim=1)


class SoundBank:
    """Synthesised clips held in memory; `batch` cuts random windows, re-gains and mixes them."""

    def __init__(self, cfg: SoundConfig, embed: Callable[[list[str]], np.ndarray]) -> None:
        self.cfg = cfg
        self.embed = embed
        self.rng = np.random.default_rng(cfg.seed)
        start = time.perf_counter()
        clips = [synth_clip(self.rng, seconds=cfg.clip_seconds) for _ in range(cfg.bank_size)]
        log.info("synthesised %d clips in %.0f s", len(clips), time.perf_counter() - start)
        self.waves = np.stack([c.samples for c in clips]).astype(np.float32)
        self.kinds = [tuple(sorted(c.kinds)) for c in clips]
        self.captions = [c.caption for c in clips]
        self._cache: dict[str, np.ndarray] = {}
        self.real: list[np.ndarray] = []
        self.real_by_kind: dict[str, list[int]] = {}
        if cfg.real_dir:
            self._load_real(real_folder(cfg.real_dir))

    def _load_real(self, folder: Path) -> None:
        from studio.audio.io import read_audio
        from studio.audio.real_set import training_clips

        for path, kind in training_clips(folder):
            self.real.append(np.asarray(read_audio(path).samples, dtype=np.float32))
            self.real_by_kind.setdefault(kind, []).append(len(self.real) - 1)
        log.info(
            "real recordings: %d clips of %d kinds from %s", len(self.real), len(self.real_by_kind), folder
        )

    def _embedding(self, captions: list[str]) -> np.ndarray:
        todo = sorted({c for c in captions if c not in self._cache})
        if todo:
            for caption, vector in zip(todo, self.embed(todo), strict=True):
                self._cache[caption] = vector
        return np.stack([self._cache[c] for c in captions])

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, list[tuple[str, ...]]]:
        cfg, rng = self.cfg, self.rng
        window = int(cfg.window_seconds * SAMPLE_RATE)
        picks = rng.integers(0, len(self.waves), size=cfg.batch)
        waves, kinds, captions = [], [], []
        for i in picks:
            if self.real and rng.random() < cfg.real_share:
                wave, clip_kinds, caption = self._real_row(window)
            else:
                wave, clip_kinds, caption = self._window(i, window), self.kinds[i], self.captions[i]
            if rng.random() < cfg.mix_share:
                other_kinds, cut_other = self._partner()
                if set(other_kinds) != set(clip_kinds) and len(set(clip_kinds) | set(other_kinds)) <= 2:
                    gain = 10 ** (rng.uniform(-6, 0) / 20)
                    wave = wave + gain * cut_other(window)
                    clip_kinds = tuple(sorted(set(clip_kinds) | set(other_kinds)))
                    caption = make_sound_caption(clip_kinds, rng)
            if cfg.augment > 0:
                bed = self._window(int(rng.integers(0, len(self.waves))), window)
                wave = augment(wave, rng, other=bed, p=cfg.augment)
            peak = float(np.abs(wave).max()) or 1.0
            waves.append(wave / peak * 10 ** (rng.uniform(-30, -1) / 20))
            kinds.append(clip_kinds)
            captions.append(caption)
        text = torch.from_numpy(self._embedding(captions).astype(np.float32))
        return torch.from_numpy(np.stack(waves).astype(np.float32)), text, kinds

    def _partner(self) -> tuple[tuple[str, ...], Callable[[int], np.ndarray]]:
        """A second sound to mix in (synthetic, or real as often as real rows are): its kinds, and
        a function that cuts its window (called only if the mix is used)."""
        if self.real and self.rng.random() < self.cfg.real_share:
            kind, k = self._pick_real()
            return (kind,), lambda window: self._cut_real(k, window)
        j = int(self.rng.integers(0, len(self.waves)))
        return self.kinds[j], lambda window: self._window(j, window)

    def _window(self, i: int, window: int) -> np.ndarray:
        start = int(self.rng.integers(0, self.waves.shape[1] - window + 1))
        return self.waves[i, start : start + window]

    def _pick_real(self) -> tuple[str, int]:
        """A real clip: the kind uniformly (long files give many clips of one kind), then a clip."""
        kinds = sorted(self.real_by_kind)
        kind = kinds[int(self.rng.integers(len(kinds)))]
        members = self.real_by_kind[kind]
        return kind, members[int(self.rng.integers(len(members)))]

    def _cut_real(self, k: int, window: int) -> np.ndarray:
        """A window of real clip k: long clips cut at a random start, short ones looped from a
        random phase (as the app loops short sounds)."""
        clip = self.real[k]
        if len(clip) >= window:
            start = int(self.rng.integers(0, len(clip) - window + 1))
            return clip[start : start + window]
        phase = int(self.rng.integers(len(clip)))
        return np.tile(np.roll(clip, -phase), -(-window // len(clip)))[:window]

    def _real_row(self, window: int) -> tuple[np.ndarray, tuple[str, ...], str]:
        kind, k = self._pick_real()
        return self._cut_real(k, window), (kind,), make_sound_caption((kind,), self.rng)


def real_folder(value: str) -> Path:
    """The config's `real_dir`: "default" is where `studio sounds fetch` writes by default."""
    from studio.audio.real_set import default_dir

    return default_dir() if value == "default" else Path(value).expanduser()


def train_sound_encoder(
    cfg: SoundConfig,
    out_dir: Path,
    embed: Callable[[list[str]], np.ndarray],
    resume: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Train (or resume) and keep `checkpoint.pt` (state_dict + config, weights_only-loadable)."""

    def step_loss(net: nn.Module, bank: SoundBank) -> tuple[torch.Tensor, dict[str, float]]:
        waves, text, kinds = bank.batch()
        same = torch.tensor([[a == b for b in kinds] for a in kinds])
        return contrastive_loss(net(log_mel_torch(waves)), text, same, cfg.temperature)

    return train_aligned(
        cfg,
        out_dir,
        "sound_encoder",
        lambda: SoundEncoder.from_config(cfg),
        lambda: SoundBank(cfg, embed),
        step_loss,
        resume,
        progress,
    )
