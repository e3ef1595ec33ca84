"""The shipped networks: a text+sketch generator, its discriminator, posterior encoder, upscaler.

The generator is DF-GAN-like (text fused into every block through predicted channel affines)
with SPADE-style label-map normalisation. Its latent is a conditional VAE latent: a text-
conditioned prior maps the user's standard-normal `z` to the layout latent, so a seed fixes
the composition while the text sets the mood, and reconstruction from the posterior encoder
gives the fast-converging paired loss the CPU budget needs (DESIGN §5).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from studio.training.config import PAD_MODES

TEXT_DIM = 384


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """nn.InstanceNorm2d(affine=False) written out: the ONNX exporter cannot size the built-in
    one after an upsample."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


class SpadeFusion(nn.Module):
    """Normalise, then modulate by the label map (spatial) and the text+latent code (channel)."""

    def __init__(self, channels: int, num_classes: int, cond_dim: int, pool: int, hidden: int = 16):
        super().__init__()
        self.pool = pool  # label map resolution ÷ this block's: a constant, so ONNX export is static
        self.shared = nn.Sequential(nn.Conv2d(num_classes, hidden, 3, padding=1), nn.ReLU())
        self.label_affine = nn.Conv2d(hidden, channels * 2, 1)  # 1×1: the 3×3 above sees edges
        self.text_affine = nn.Linear(cond_dim, channels * 2)

    def forward(self, x: torch.Tensor, labels: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if self.pool > 1:
            labels = F.avg_pool2d(labels, self.pool)
        label_gamma, label_beta = self.label_affine(self.shared(labels)).chunk(2, dim=1)
        gamma, beta = self.text_affine(cond).chunk(2, dim=1)
        out = instance_norm(x) * (1 + label_gamma) + label_beta
        return out * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


def noise_at(noise: torch.Tensor, pool: int) -> torch.Tensor:
    """The full-resolution noise map `pool` times smaller, area-pooled and rescaled to unit
    variance, so every block sees the same seed's noise (coarse blocks its low frequencies)."""
    return F.avg_pool2d(noise, pool) * pool if pool > 1 else noise


class GenBlock(nn.Module):
    """Upsample ×2, two fused convolutions, with a learned skip.

    With `noise`, a per-pixel noise map is added after each convolution with a learned per-channel
    scale (StyleGAN): the seed then moves clouds, foliage and light, not only a global tint. The
    scales start at zero, so a generator trained without noise starts unchanged.

    `upsample` "nearest" (the 1.x/2.x models) carries the 8×8 block's cells through every skip as
    8-px squares; pushed on low frequencies (run v3) they showed as a grid. "bilinear" has no
    parameters, so a trained generator can switch and fine-tune (run v4)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        num_classes: int,
        cond_dim: int,
        pool: int,
        noise: bool = False,
        upsample: str = "nearest",
    ):
        super().__init__()
        self.upsample = upsample
        self.fuse1 = SpadeFusion(cin, num_classes, cond_dim, pool)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.fuse2 = SpadeFusion(cout, num_classes, cond_dim, pool)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)
        self.noise_scale = nn.Parameter(torch.zeros(2, cout, 1, 1)) if noise else None

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.upsample == "bilinear":
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        else:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        h = self.conv1(F.leaky_relu(self.fuse1(x, labels, cond), 0.2))
        if self.noise_scale is not None and noise is not None:
            n = noise_at(noise, self.fuse1.pool)
            h = h + self.noise_scale[0] * n
        h = self.conv2(F.leaky_relu(self.fuse2(h, labels, cond), 0.2))
        if self.noise_scale is not None and noise is not None:
            h = h + self.noise_scale[1] * n
        return h + self.skip(x)


def channel_plan(ngf: int, resolution: int) -> list[int]:
    """Channels from 4×4 up to the output resolution, halving as the maps grow."""
    steps = resolution.bit_length() - 3  # 4→res doublings
    return [min(ngf * 8, ngf * 2 ** max(0, steps - i)) for i in range(steps + 1)]


class RefineLevel(nn.Module):
    """One ×2 level above the trunk, a StackGAN stage II: it reads the picture below (not the
    trunk's features) with the label map and the text, and adds a residual to its bilinear
    upsample (StyleGAN2's skip output). Reading only the picture lets it train on the pairs the
    world gives — a real picture, area-downscaled, and the picture itself — like an upscaler that
    knows what each region is and what the caption says. The residual starts at zero, so a model
    grown from a trunk first renders exactly the trunk's picture, upsampled."""

    def __init__(self, width: int, num_classes: int, cond_dim: int, noise: bool = False):
        super().__init__()
        self.head = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(width, width, 3, padding=1)
        )
        self.block = GenBlock(width, width, num_classes, cond_dim, pool=1, noise=noise)
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(width, 3, 3, padding=1))
        nn.init.zeros_(self.to_rgb[1].weight)
        nn.init.zeros_(self.to_rgb[1].bias)

    def forward(
        self, rgb: torch.Tensor, labels: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        up = F.interpolate(rgb, scale_factor=2.0, mode="bilinear", align_corners=False)
        return up + self.to_rgb(self.block(self.head(rgb), labels, cond, noise))


def set_padding(net: nn.Module, mode: str) -> None:
    """Pad every padded convolution of `net` with `mode`. Zero padding tells each layer where the
    border is, and the generators drew a frame of lines there (2 px at 64 px in the v5 trunk,
    about 6 px at 128 px: docs/generator_v5u.md); reflected borders carry no such mark. The
    weights are the same in every mode, so a zero-padded generator can be fine-tuned into one."""
    if mode not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {', '.join(PAD_MODES)}, not {mode!r}")
    for module in net.modules():
        if isinstance(module, nn.Conv2d) and any(module.padding):
            module.padding_mode = mode


class Generator(nn.Module):
    """(z, text embedding, one-hot labels[, attributes, noise]) → image in [-1, 1]; ONNX-exportable.

    `trunk` (default: the output resolution) is where the DF-GAN trunk ends; refinement levels
    take it on to `resolution`, so a 64 px model can be grown to 128 px and fine-tuned.
    `attr_dim` > 0 adds the scene-attribute input (time, weather, season probabilities, zeros
    for "unknown"), added to the projected text through a layer that starts at zero; `noise`
    adds a [N, 1, resolution, resolution] per-pixel noise input reaching every block. Both start
    as no-ops, so a shipped generator can be fine-tuned into one that has them. `prior_floor` > 0
    keeps the text prior's spread of z at least that wide: trained freely it narrowed to
    0.2–0.3, so seeds and latent sliders barely moved the picture (docs/generator_v5t.md).
    `pad_mode` is the padding (`set_padding`) of the convolutions working at `pad_from` px or
    more: on v5's weights, reflecting only from 64 px up removed the frame and kept the layout
    the zero-padded 8–32 px blocks learned (docs/generator_v5v.md)."""

    def __init__(
        self,
        z_dim: int = 64,
        ngf: int = 32,
        num_classes: int = 11,
        resolution: int = 64,
        trunk: int = 0,
        attr_dim: int = 0,
        noise: bool = False,
        upsample: str = "nearest",
        consistent: bool = False,
        prior_floor: float = 0.0,
        pad_mode: str = "zeros",
        pad_from: int = 0,
    ):
        super().__init__()
        trunk = trunk or resolution
        self.min_logvar = max(-6.0, 2 * math.log(prior_floor)) if prior_floor > 0 else -6.0
        self.consistent, self.trunk = consistent, trunk
        if upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be nearest or bilinear, not {upsample!r}")
        if resolution % trunk or (resolution // trunk) & (resolution // trunk - 1):
            raise ValueError(f"resolution {resolution} must be the trunk's {trunk} times a power of two")
        self.z_dim, self.resolution, self.num_classes = z_dim, resolution, num_classes
        self.attr_dim, self.noise = attr_dim, noise
        self.text_proj = nn.Sequential(nn.Linear(TEXT_DIM, 128), nn.LeakyReLU(0.2))
        if attr_dim:
            self.attr_proj = nn.Linear(attr_dim, 128)
            nn.init.zeros_(self.attr_proj.weight)
            nn.init.zeros_(self.attr_proj.bias)
        self.prior = nn.Linear(128, z_dim * 2)
        cond_dim = 128 + z_dim
        chans = channel_plan(ngf, trunk)
        self.fc = nn.Linear(cond_dim, chans[0] * 16)
        pools = [resolution // 2 ** (i + 3) for i in range(len(chans) - 1)]  # blocks run at 8, 16, … px
        self.blocks = nn.ModuleList(
            GenBlock(a, b, num_classes, cond_dim, p, noise, upsample)
            for a, b, p in zip(chans[:-1], chans[1:], pools, strict=True)
        )
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(chans[-1], 3, 3, padding=1), nn.Tanh())
        levels = (resolution // trunk).bit_length() - 1
        self.refine = nn.ModuleList(
            RefineLevel(chans[-1], num_classes, cond_dim, noise) for _ in range(levels)
        )
        # the padding mode reaches convolutions working at pad_from px or more (all when 0)
        at = [(b, 8 * 2**i) for i, b in enumerate(self.blocks)] + [(self.to_rgb, trunk)]
        at += [(level, trunk * 2 ** (j + 1)) for j, level in enumerate(self.refine)]
        for part, size in at:
            if size >= pad_from:
                set_padding(part, pad_mode)

    def prior_params(
        self, text: torch.Tensor, attributes: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t = self.text_proj(text)
        if self.attr_dim and attributes is not None:
            t = t + self.attr_proj(attributes)
        mu, logvar = self.prior(t).chunk(2, dim=1)
        return t, mu, logvar.clamp(self.min_logvar, 4)

    def synthesize(
        self,
        latent: torch.Tensor,
        t: torch.Tensor,
        labels: torch.Tensor,
        noise: torch.Tensor | None = None,
        with_trunk: bool = False,
    ):
        """The picture; with `with_trunk`, (picture, the trunk's own picture below the refinement)."""
        cond = torch.cat([latent, t], dim=1)
        x = self.fc(cond).view(latent.shape[0], -1, 4, 4)
        for block in self.blocks:
            x = block(x, labels, cond, noise)
        rgb = self.to_rgb(x)
        out = self.refined(rgb, labels, cond, noise) if self.refine else rgb
        return (out, rgb) if with_trunk else out

    def refined(
        self, rgb: torch.Tensor, labels: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The refinement levels alone: a trunk-sized picture → the output resolution. `consistent`:
        then back-projected (Irani & Peleg 1991), so the output area-averaged to the trunk's size is
        the trunk's picture — the levels add detail and cannot repaint what the trunk drew."""
        out = rgb
        for level in self.refine:
            out = level(out, labels, cond, noise)
        if self.consistent and self.refine:
            scale = self.resolution // self.trunk  # ints, not traced shapes: the ONNX graph stays static
            error = F.avg_pool2d(out, scale) - rgb
            out = out - F.interpolate(error, scale_factor=float(scale), mode="nearest")
        return out.clamp(-1, 1)

    def forward(
        self,
        z: torch.Tensor,
        text: torch.Tensor,
        labels: torch.Tensor,
        attributes: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        with_trunk: bool = False,
    ):
        """Sample: the standard-normal z is mapped through the text-conditioned prior."""
        t, mu, logvar = self.prior_params(text, attributes)
        return self.synthesize(mu + z * torch.exp(0.5 * logvar), t, labels, noise, with_trunk)


class TrainingGenerator(nn.Module):
    """Generator + posterior encoder as one module, so one forward serves DDP.

    Rows with `encode` true take their latent from the posterior of the real image
    (reconstruction), the others sample the text prior (generation). Returns the images and
    the KL of the encoded rows to the prior.
    """

    def __init__(self, generator: Generator, encoder: PosteriorEncoder):
        super().__init__()
        self.generator, self.encoder = generator, encoder

    def forward(self, eps, text, labels_in, real, labels_true, encode, low=None):
        """With `low` (trunk-sized pictures), also returns them refined under the same conditions:
        the paired rows of a refinement stage."""
        t, mu_p, lv_p = self.generator.prior_params(text)
        mu_q, lv_q = self.encoder(real, labels_true)
        pick = encode[:, None]
        mu, lv = torch.where(pick, mu_q, mu_p), torch.where(pick, lv_q, lv_p)
        latent = mu + eps * torch.exp(0.5 * lv)
        fake = self.generator.synthesize(latent, t, labels_in)
        kl = 0.5 * (lv_p - lv_q + (lv_q.exp() + (mu_q - mu_p) ** 2) / lv_p.exp() - 1).sum(dim=1)
        kl = (kl * encode).sum() / encode.sum().clamp(min=1)
        if low is None:
            return fake, kl
        return fake, kl, self.generator.refined(low, labels_in, torch.cat([latent, t], dim=1))


class PosteriorEncoder(nn.Module):
    """Image + labels → layout latent (mu, logvar); used only in training."""

    def __init__(self, z_dim: int = 64, nef: int = 32, num_classes: int = 11):
        super().__init__()
        layers, c = [], 3 + num_classes
        for out in (nef, nef * 2, nef * 4, nef * 4):
            layers += [nn.Conv2d(c, out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c = out
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, z_dim * 2)

    def forward(self, image: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.body(torch.cat([image, labels], dim=1))).chunk(2, dim=1)
        return mu, logvar.clamp(-6, 4)


class Discriminator(nn.Module):
    """Image + labels → features; a text-conditioned head judges realism *and* text match.

    With `attribute_classes` (classes per group, e.g. 7 times, 7 weathers, 4 seasons) it also
    classifies the picture's attributes (AC-GAN): the matching-aware term alone gives the
    generator only a faint "this does not fit the caption", the classifier says which way."""

    def __init__(
        self,
        ndf: int = 32,
        num_classes: int = 11,
        resolution: int = 64,
        attribute_classes: tuple[int, ...] = (),
    ):
        super().__init__()
        self.attribute_classes = tuple(attribute_classes)
        layers, c = [], 3 + num_classes
        for i in range(resolution.bit_length() - 3):
            out = min(ndf * 2**i, ndf * 8)
            layers.append(nn.Sequential(nn.Conv2d(c, out, 4, 2, 1), nn.LeakyReLU(0.2)))
            c = out
        self.body = nn.ModuleList(layers)
        self.text_proj = nn.Linear(TEXT_DIM, 64)
        self.head = nn.Sequential(nn.Conv2d(c + 64, c, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(c, 1, 4))
        if self.attribute_classes:
            self.attribute_head = nn.Linear(c, sum(self.attribute_classes))

    def features(self, image: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
        x, feats = torch.cat([image, labels], dim=1), []
        for layer in self.body:
            x = layer(x)
            feats.append(x)
        return feats

    def judge(self, feat: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        t = self.text_proj(text)[:, :, None, None].expand(-1, -1, *feat.shape[-2:])
        return self.head(torch.cat([feat, t], dim=1)).flatten()

    def forward(self, inputs: torch.Tensor, text: torch.Tensor, mismatched: torch.Tensor | None = None):
        """Scores for (image+labels, text); with `mismatched`, also the first rows against wrong
        texts (DF-GAN's matching-aware term) — one forward, so DistributedDataParallel is happy.

        With an attribute head, returns (scores, per-group attribute logits of every input row)."""
        feat = self.features(inputs[:, :3], inputs[:, 3:])[-1]
        scores = self.judge(feat, text)
        if mismatched is not None:
            scores = torch.cat([scores, self.judge(feat[: len(mismatched)], mismatched)])
        if not self.attribute_classes:
            return scores
        logits = self.attribute_head(feat.mean(dim=(2, 3)))
        return scores, logits.split(self.attribute_classes, dim=1)


def attribute_loss(logits: tuple[torch.Tensor, ...], targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the (row, group) pairs that have a target (-1: the caption names none)."""
    total = logits[0].new_zeros(())
    count = (targets >= 0).sum().clamp(min=1)
    for group, group_logits in enumerate(logits):
        total = total + F.cross_entropy(group_logits, targets[:, group], ignore_index=-1, reduction="sum")
    return total / count


class Upscaler(nn.Module):
    """×scale super-resolution: a residual body at low resolution and one pixel shuffle (ESPCN),
    added to a bilinear upsample, so all convolutions run at the small size (CPU budget)."""

    def __init__(self, scale: int = 4, nf: int = 32, blocks: int = 4):
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(3, nf, 3, padding=1)
        self.body = nn.Sequential(*[_ResBlock(nf) for _ in range(blocks)])
        self.tail = nn.Sequential(nn.Conv2d(nf, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(image, scale_factor=float(self.scale), mode="bilinear", align_corners=False)
        h = self.head(image)
        return (base + self.tail(h + self.body(h))).clamp(-1, 1)


class PatchDiscriminator(nn.Module):
    """PatchGAN critic for the upscaler's adversarial term (SRGAN): one score per overlapping
    ~40 px patch, so it judges texture and edges rather than composition. Spectral norm keeps it
    smooth without a gradient penalty, which the CPU budget cannot afford."""

    def __init__(self, ndf: int = 16, layers: int = 3):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        body, c = [], 3
        for i in range(layers):
            body += [sn(nn.Conv2d(c, ndf * 2**i, 4, 2, 1)), nn.LeakyReLU(0.2)]
            c = ndf * 2**i
        self.body = nn.Sequential(*body, sn(nn.Conv2d(c, 1, 3, padding=1)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.body(image).flatten(1)


class _ResBlock(nn.Module):
    def __init__(self, nf: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(nf, nf, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(nf, nf, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
