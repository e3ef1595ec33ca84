"""The translator's networks: a small ResNet generator with a style input, and a PatchGAN critic.

Generator (CycleGAN's, sized for a CPU): a 7×7 stem, two stride-2 convolutions, `blocks` residual
blocks at a quarter of the resolution, and two resize-then-convolve upsamplings (nearest ×2 and a
3×3 convolution: no transposed convolutions, so no checkerboards), instance norm throughout,
reflection padding, tanh out.

Style (a MUNIT-lite twist): a `style_dim` vector goes through a small mapping MLP to a per-channel
scale and shift after each normalisation of the residual blocks (AdaIN). Those projections start
at zero, so a fresh generator ignores the style, and training learns to use it because of the
diversity term (two styles of one picture should differ). The all-zeros style is the canonical
one the cycle's return trip uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, padding_mode="reflect")


class StyleResBlock(nn.Module):
    def __init__(self, ch: int, style_width: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(ch, ch, 3), _conv(ch, ch, 3)
        self.norm1 = nn.InstanceNorm2d(ch, affine=True)
        self.norm2 = nn.InstanceNorm2d(ch, affine=True)
        self.style = nn.Linear(style_width, 4 * ch) if style_width else None
        if self.style is not None:
            nn.init.zeros_(self.style.weight)
            nn.init.zeros_(self.style.bias)

    def forward(self, x: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        mod = None
        if self.style is not None and w is not None:
            mod = [t[:, :, None, None] for t in self.style(w).chunk(4, dim=1)]
        h = self.norm1(self.conv1(x))
        if mod is not None:
            h = h * (1 + mod[0]) + mod[1]
        h = self.norm2(self.conv2(F.relu(h)))
        if mod is not None:
            h = h * (1 + mod[2]) + mod[3]
        return x + h


class TranslatorGenerator(nn.Module):
    """image [N,3,R,R] in [-1, 1] (+ style [N,S]) → image [N,3,R,R] in [-1, 1]; R divisible by 4."""

    def __init__(self, ngf: int = 16, blocks: int = 4, style_dim: int = 8, style_width: int = 64) -> None:
        super().__init__()
        self.style_dim = style_dim
        self.stem = nn.Sequential(_conv(3, ngf, 7), nn.InstanceNorm2d(ngf, affine=True), nn.ReLU(True))
        self.down = nn.Sequential(
            _conv(ngf, 2 * ngf, 3, 2),
            nn.InstanceNorm2d(2 * ngf, affine=True),
            nn.ReLU(True),
            _conv(2 * ngf, 4 * ngf, 3, 2),
            nn.InstanceNorm2d(4 * ngf, affine=True),
            nn.ReLU(True),
        )
        width = style_width if style_dim else 0
        self.mapping = (
            nn.Sequential(nn.Linear(style_dim, width), nn.ReLU(True), nn.Linear(width, width), nn.ReLU(True))
            if style_dim
            else None
        )
        self.blocks = nn.ModuleList(StyleResBlock(4 * ngf, width) for _ in range(blocks))
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            _conv(4 * ngf, 2 * ngf, 3),
            nn.InstanceNorm2d(2 * ngf, affine=True),
            nn.ReLU(True),
            nn.Upsample(scale_factor=2, mode="nearest"),
            _conv(2 * ngf, ngf, 3),
            nn.InstanceNorm2d(ngf, affine=True),
            nn.ReLU(True),
        )
        self.out = _conv(ngf, 3, 7)

    def forward(self, image: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        w = None
        if self.mapping is not None:
            if style is None:
                style = image.new_zeros(image.shape[0], self.style_dim)
            w = self.mapping(style)
        h = self.down(self.stem(image))
        for block in self.blocks:
            h = block(h, w)
        return torch.tanh(self.out(self.up(h)))


class PatchCritic(nn.Module):
    """CycleGAN's PatchGAN (70×70 receptive field at `layers` 3): image → a map of realness scores."""

    def __init__(self, ndf: int = 32, layers: int = 3) -> None:
        super().__init__()
        seq: list[nn.Module] = [nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = ndf
        for i in range(1, layers + 1):
            nxt = ndf * min(2**i, 8)
            stride = 2 if i < layers else 1
            seq += [
                nn.Conv2d(ch, nxt, 4, stride, 1),
                nn.InstanceNorm2d(nxt, affine=True),
                nn.LeakyReLU(0.2, True),
            ]
            ch = nxt
        seq.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*seq)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


class BothDirections(nn.Module):
    """The exported graph: one picture (and style) in, its translation in each direction out."""

    def __init__(self, a_to_b: TranslatorGenerator, b_to_a: TranslatorGenerator) -> None:
        super().__init__()
        self.a_to_b, self.b_to_a = a_to_b, b_to_a

    def forward(
        self, image: torch.Tensor, style: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.a_to_b(image, style), self.b_to_a(image, style)
