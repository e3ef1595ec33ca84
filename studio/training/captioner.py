"""The captioner: picture → caption (Show and Tell: a CNN encoder, a GRU decoder), trained on the world.

`studio train --config configs/captioner64.json` runs `captioner_run` from the loop's runner
table: same snapshots (`checkpoint.pt`, weights_only-loadable), resume and progress as the other
tasks. The encoder's pooled and flattened conv features become one image vector, which starts
the GRU's state and is fed beside every word (so the picture is never forgotten); the output
layer reads the state and the image vector.

Data: a bank of procedural renders (train split) held in memory, each with `cap_captions`
training-wording captions (the world's caption generator; held-out phrasings never appear), re-
augmented per batch like the image encoder's (shift, flip, blur, noise: generated pictures are
softer than renders). `cap_refresh` slots per step are replaced by fresh renders, so the model
keeps seeing new scenes; which scene a slot holds follows from the step, so a resumed run
rebuilds exactly the bank it left.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.describe.decode import greedy
from studio.describe.vocab import PAD, Vocabulary, training_vocabulary
from studio.inference.attributes import GROUPS, attributes_for_prompt
from studio.training.config import TrainConfig
from studio.training.image_encoder import augment, picture_features, to_input
from studio.training.loop import _restore, _snapshot, wrap
from studio.world.captions import make_caption
from studio.world.scene import render_scene, render_scenes, sample_attributes

log = logging.getLogger(__name__)
PANEL_SEED = 12_345  # eval-split renders whose captions are written beside the snapshots
PANEL = 32


class CaptionNet(nn.Module):
    """image [N,3,R,R] in [-1, 1] + words → next-word logits; R a multiple of 16."""

    def __init__(self, vocab: int, width: int = 32, embed: int = 64, hidden: int = 256, resolution: int = 64):
        super().__init__()
        if resolution % 16:
            raise ValueError(f"a captioner's resolution must be a multiple of 16, not {resolution}")
        self.features = picture_features(width)  # R → R/16, as the image encoder reads pictures
        cells = (resolution // 16) ** 2
        self.image = nn.Sequential(nn.Linear(4 * width * (2 + cells), hidden), nn.ReLU(inplace=True))
        self.init_hidden = nn.Linear(hidden, hidden)
        self.embed = nn.Embedding(vocab, embed, padding_idx=PAD)
        self.gru = nn.GRU(embed + hidden, hidden, batch_first=True)
        self.out = nn.Linear(2 * hidden, vocab)

    def encode(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(initial GRU state [N,H], image context [N,H])."""
        x = self.features(image)
        v = self.image(torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3)), x.flatten(1)], 1))
        return torch.tanh(self.init_hidden(v)), v

    def forward(self, image: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: words [N,T] (`<bos>` first) → logits [N,T,V] for the words that follow."""
        hidden, context = self.encode(image)
        ctx = context[:, None].expand(-1, words.shape[1], -1)
        states, _ = self.gru(torch.cat([self.embed(words), ctx], 2), hidden[None].contiguous())
        return self.out(torch.cat([states, ctx], 2))

    def step(
        self, token: torch.Tensor, hidden: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One word: token [N] → (log-probabilities [N,V], next state [N,H]); the GRU cell written
        out (PyTorch's gate order r, z, n) so it exports as plain MatMul/Sigmoid/Tanh."""
        x = torch.cat([self.embed(token), context], 1)
        gi = F.linear(x, self.gru.weight_ih_l0, self.gru.bias_ih_l0)
        gh = F.linear(hidden, self.gru.weight_hh_l0, self.gru.bias_hh_l0)
        i_r, i_z, i_n = gi.chunk(3, 1)
        h_r, h_z, h_n = gh.chunk(3, 1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        nxt = (1 - z) * n + z * hidden
        return F.log_softmax(self.out(torch.cat([nxt, context], 1)), dim=1), nxt


def build_captioner(cfg: TrainConfig, vocab_size: int) -> CaptionNet:
    return CaptionNet(vocab_size, cfg.cap_width, cfg.cap_embed, cfg.cap_hidden, cfg.resolution)


class VocabularyPart:
    """The vocabulary as a snapshot part: saved with the weights, and a resume under a changed
    caption table is refused instead of silently renumbering the words."""

    def __init__(self, words: tuple[str, ...]) -> None:
        self.words = words

    def state_dict(self) -> dict:
        return {"words": list(self.words)}

    def load_state_dict(self, state: dict) -> None:
        if tuple(state["words"]) != self.words:
            raise ValueError("the snapshot's vocabulary differs from the caption tables': start a new run")


def _scene(seed: int, index: int, size: int) -> tuple[np.ndarray, dict]:
    """Scene `index` of a stream: the same draws as studio.world.scene.render_scenes(seed)."""
    attr_rng, render_rng = (
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index, k))) for k in range(2)
    )
    attrs = sample_attributes(attr_rng)
    return render_scene(attrs, render_rng, size)[0], attrs


class CaptionBank:
    """`cap_bank` renders with tokenised captions; slot i holds the newest scene j ≡ i (mod bank)
    among the first bank + step·refresh of the stream."""

    def __init__(self, cfg: TrainConfig, vocab: Vocabulary, seed: int, step: int) -> None:
        self.cfg, self.vocab, self.seed = cfg, vocab, seed
        n, r = cfg.cap_bank, cfg.resolution
        self.images = np.zeros((n, r, r, 3), np.uint8)
        self.tokens = np.full((n, cfg.cap_captions, cfg.cap_max_tokens + 2), PAD, np.int64)
        start = time.perf_counter()
        seen = n + step * cfg.cap_refresh
        for slot in range(n):
            self._fill(slot + n * ((seen - 1 - slot) // n))
        log.info("caption bank: %d scenes in %.0f s", n, time.perf_counter() - start)

    def _fill(self, index: int) -> None:
        slot = index % self.cfg.cap_bank
        self.images[slot], attrs = _scene(self.seed, index, self.cfg.resolution)
        rng = np.random.default_rng([self.seed, index, 7])
        self.tokens[slot] = PAD
        for k in range(self.cfg.cap_captions):
            ids = self.vocab.encode(make_caption(attrs, rng, "train"), self.cfg.cap_max_tokens)
            self.tokens[slot, k, : len(ids)] = ids

    def refresh(self, step: int) -> None:
        """After `step`: the next `cap_refresh` scenes of the stream replace the oldest."""
        first = self.cfg.cap_bank + step * self.cfg.cap_refresh
        for index in range(first, first + self.cfg.cap_refresh):
            self._fill(index)

    def batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(augmented images [B,3,R,R], tokens [B,T]) for one step, drawn with `rng`."""
        picks = rng.integers(0, self.cfg.cap_bank, self.cfg.batch)
        which = rng.integers(0, self.cfg.cap_captions, self.cfg.batch)
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        images = augment(to_input(self.images[picks], self.cfg.resolution), gen)
        tokens = self.tokens[picks, which]
        length = int((tokens != PAD).sum(1).max())
        return images, torch.from_numpy(tokens[:, :length].copy())


def caption_loss(net: nn.Module, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of every next word (`<eos>` included, padding not)."""
    logits = net(images, tokens[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), ignore_index=PAD)


def torch_captions(net: CaptionNet, images: torch.Tensor, vocab: Vocabulary, max_tokens: int) -> list[str]:
    """Greedy captions through the same numpy decoding the app runs (torch for the step)."""

    def step(tokens: np.ndarray, hidden: np.ndarray, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            logp, nxt = net.step(
                torch.from_numpy(tokens), torch.from_numpy(hidden), torch.from_numpy(context)
            )
        return logp.numpy(), nxt.numpy()

    was_training = net.training
    net.eval()
    with torch.no_grad():
        hidden, context = net.encode(images)
    out = [vocab.decode(list(h.words)) for h in greedy(step, hidden.numpy(), context.numpy(), max_tokens)]
    net.train(was_training)
    return out


def attribute_hits(captions: list[str], attributes: list[dict]) -> dict[str, float]:
    """Share of captions whose time/weather/season (as the app's reader reads them) are the scene's."""
    read = [attributes_for_prompt(c) for c in captions]
    return {g: float(np.mean([r[g] == a[g] for r, a in zip(read, attributes, strict=True)])) for g in GROUPS}


def _learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine from lr_g to 10 % of it: a function of the step, so resumes match."""
    if step < cfg.cap_warmup:
        return cfg.lr_g * (step + 1) / cfg.cap_warmup
    done = (step - cfg.cap_warmup) / max(1, cfg.steps - cfg.cap_warmup)
    return float(cfg.lr_g * (0.1 + 0.45 * (1 + np.cos(np.pi * min(1.0, done)))))


def captioner_run(cfg, out_dir: Path, embed, resume, env, progress, should_stop) -> dict:
    """The loop's runner for kind "captioner" (`embed` is unused: captions are words here)."""
    if cfg.data:
        raise ValueError("the captioner trains on the procedural world; --data is for generators")
    vocab = Vocabulary(training_vocabulary())
    net = build_captioner(cfg, len(vocab)).to(env.device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr_g, weight_decay=1e-4)
    parts = {"net": net, "opt": opt, "vocab": VocabularyPart(vocab.words)}
    start, seen, wall = _restore(out_dir, parts) if resume else (0, 0, 0.0)
    t0 = time.time()  # the bank's renders count as training time (the manifest's CPU-hours)
    bank = CaptionBank(cfg, vocab, seed=1_000 + cfg.seed * 100 + env.rank, step=start)
    panel = render_scenes(PANEL, seed=PANEL_SEED, size=cfg.resolution, split="eval")
    panel_x = to_input(panel.images, cfg.resolution).to(env.device)
    train_net = wrap(net, env)
    net.train()
    metrics: dict[str, float] = {}
    loop_start, seen_start = time.time(), seen
    done = start  # what the return reports if a stop comes first
    for step in range(start, cfg.steps):
        if should_stop():
            break
        rng = np.random.default_rng([cfg.seed, env.rank, step])
        images, tokens = bank.batch(rng)
        for group in opt.param_groups:
            group["lr"] = _learning_rate(cfg, step)
        loss = caption_loss(train_net, images.to(env.device), tokens.to(env.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        bank.refresh(step)
        seen += images.shape[0] * env.world
        done = step + 1
        metrics = {"loss": loss.item()}
        if env.main and (done % cfg.sample_every == 0 or done == cfg.steps):
            captions = torch_captions(net, panel_x, vocab, cfg.cap_max_tokens)
            hits = attribute_hits(captions, panel.attributes)
            metrics |= {f"panel_{g}": v for g, v in hits.items()}
            lines = [f"{c}\n    truth: {t}" for c, t in zip(captions, panel.captions, strict=True)]
            (out_dir / f"samples-{done:06d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if env.main and (done % cfg.snapshot_every == 0 or done == cfg.steps):
            _snapshot(out_dir, cfg, done, seen, wall + time.time() - t0, parts, metrics)
        if env.main:
            rate = (seen - seen_start) / max(1e-6, time.time() - loop_start)
            progress(done, cfg.steps, {**metrics, "img_per_s": rate})
    return {"step": done, "seen": seen, **metrics}
