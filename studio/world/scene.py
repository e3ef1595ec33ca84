"""Procedural landscape scenes: image, semantic label map, attributes and caption.

The GAN is trained only on these, so every scene must read as a simple landscape painting and
its label map as the sketch an artist would paint for it. Everything is vectorised numpy per
scene; layers are composited back to front with soft (anti-aliased) masks, and a pixel takes a
layer's label where the layer covers more than half of it.

Two random streams per scene: `layout` draws only size-independent values (grid noise, sizes,
positions), `texture` draws per-pixel detail (stars, rain, grain). So a seed gives the same scene
at 64, 128 and 256 px, which lets an upscaler train on matching pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from studio.world.captions import FEATURES, SEASONS, TIMES, WEATHERS, make_caption
from studio.world.classes import CLASS_INDEX
from studio.world.noise import fbm, fbm1d, grid_noise

SKY, CLOUD, MOUNTAIN, SNOW, ROCK, WATER, SAND, GRASS, TREE, FLOWER = (
    CLASS_INDEX[n]
    for n in ("sky", "cloud", "mountain", "snow", "rock", "water", "sand", "grass", "tree", "flower")
)
SPLITS = ("train", "eval")


class SceneError(ValueError):
    """Scene attributes or render arguments are invalid; the message says which."""


@dataclass
class SceneBatch:
    """A batch of rendered scenes, ready for training or a contact sheet."""

    images: np.ndarray  # uint8 [N, size, size, 3]
    labels: np.ndarray  # uint8 [N, size, size]
    attributes: list[dict]
    captions: list[str]


def _rgb(*values: float) -> np.ndarray:
    return np.array(values, np.float32) / 255.0


@dataclass(frozen=True)
class _TimeStyle:
    top: np.ndarray
    mid: np.ndarray
    horizon: np.ndarray
    sun: np.ndarray
    light: np.ndarray  # multiplies material colours
    sun_height: float  # fraction of the sky height above the horizon
    cloud_lit: np.ndarray
    cloud_shade: np.ndarray


_TIME_STYLES: dict[str, _TimeStyle] = {
    "dawn": _TimeStyle(
        _rgb(72, 88, 150),
        _rgb(196, 150, 178),
        _rgb(255, 184, 140),
        _rgb(255, 214, 160),
        np.array([0.92, 0.8, 0.78], np.float32),
        0.08,
        _rgb(255, 214, 200),
        _rgb(150, 120, 150),
    ),
    "morning": _TimeStyle(
        _rgb(88, 150, 222),
        _rgb(150, 196, 236),
        _rgb(214, 230, 240),
        _rgb(255, 248, 226),
        np.array([0.98, 0.97, 0.93], np.float32),
        0.45,
        _rgb(255, 255, 255),
        _rgb(176, 186, 206),
    ),
    "noon": _TimeStyle(
        _rgb(52, 120, 212),
        _rgb(110, 170, 232),
        _rgb(188, 218, 242),
        _rgb(255, 255, 244),
        np.array([1.05, 1.05, 1.0], np.float32),
        0.85,
        _rgb(255, 255, 255),
        _rgb(186, 196, 214),
    ),
    "afternoon": _TimeStyle(
        _rgb(70, 128, 206),
        _rgb(140, 180, 222),
        _rgb(226, 220, 206),
        _rgb(255, 240, 205),
        np.array([1.0, 0.95, 0.85], np.float32),
        0.4,
        _rgb(255, 250, 238),
        _rgb(180, 176, 190),
    ),
    "sunset": _TimeStyle(
        _rgb(60, 52, 118),
        _rgb(198, 96, 118),
        _rgb(255, 160, 72),
        _rgb(255, 200, 110),
        np.array([0.95, 0.66, 0.55], np.float32),
        0.06,
        _rgb(255, 196, 120),
        _rgb(140, 76, 110),
    ),
    "dusk": _TimeStyle(
        _rgb(18, 26, 72),
        _rgb(64, 62, 122),
        _rgb(176, 120, 140),
        _rgb(240, 170, 160),
        np.array([0.46, 0.46, 0.62], np.float32),
        -0.1,
        _rgb(150, 120, 160),
        _rgb(52, 50, 88),
    ),
    "night": _TimeStyle(
        _rgb(4, 7, 22),
        _rgb(10, 18, 44),
        _rgb(28, 40, 72),
        _rgb(235, 235, 215),
        np.array([0.2, 0.24, 0.38], np.float32),
        0.55,
        _rgb(78, 84, 110),
        _rgb(24, 27, 42),
    ),
}

# Weather: (cloud cover 0..1, sky greyness, light factor, fog amount, sun visible)
_WEATHER: dict[str, tuple[float, float, float, float, bool]] = {
    "clear": (0.08, 0.0, 1.0, 0.04, True),
    "cloudy": (0.42, 0.1, 0.95, 0.08, True),
    "overcast": (0.9, 0.55, 0.78, 0.15, False),
    "foggy": (0.55, 0.5, 0.85, 0.75, False),
    "rainy": (0.9, 0.6, 0.7, 0.3, False),
    "stormy": (0.96, 0.75, 0.55, 0.22, False),
    "snowy": (0.9, 0.5, 0.85, 0.35, False),
}

_GRASS = {
    "spring": _rgb(112, 178, 74),
    "summer": _rgb(74, 140, 52),
    "autumn": _rgb(160, 150, 70),
    "winter": _rgb(120, 130, 90),
}
_TREE = {
    "spring": (_rgb(52, 120, 58), _rgb(86, 150, 70), _rgb(30, 92, 52)),
    "summer": (_rgb(28, 90, 40), _rgb(40, 108, 44), _rgb(22, 70, 40)),
    "autumn": (_rgb(200, 96, 30), _rgb(176, 52, 30), _rgb(214, 150, 40), _rgb(34, 74, 44)),
    "winter": (_rgb(26, 64, 50), _rgb(30, 72, 56)),
}
_MOUNTAIN = (_rgb(118, 106, 98), _rgb(104, 100, 112), _rgb(128, 112, 92), _rgb(96, 106, 118))
_FLOWER = (_rgb(236, 72, 150), _rgb(250, 220, 60), _rgb(250, 250, 250), _rgb(220, 40, 40), _rgb(160, 90, 220))
_SAND = _rgb(226, 198, 140)
_SNOW = _rgb(244, 246, 252)
_ROCK = _rgb(112, 110, 112)
_WATER = {"sea": _rgb(28, 82, 130), "lake": _rgb(34, 86, 104), "river": _rgb(44, 96, 116)}


class _Canvas:
    """Float image, labels and depth, with soft-mask painting."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.img = np.zeros((size, size, 3), np.float32)
        self.lab = np.full((size, size), SKY, np.uint8)
        self.depth = np.ones((size, size), np.float32)
        c = (np.arange(size, dtype=np.float32) + 0.5) / size
        self.y = c[:, None]
        self.x = c[None, :]

    def edge(self, d: np.ndarray) -> np.ndarray:
        """Signed distance (image units, >0 inside) to an anti-aliased one-pixel ramp."""
        return np.clip(d * self.size + 0.5, 0.0, 1.0)

    def paint(
        self, alpha: np.ndarray, color: np.ndarray, cls: int | None, depth: float | None = None
    ) -> None:
        alpha = np.broadcast_to(alpha, (self.size, self.size))
        self.img += (color - self.img) * alpha[..., None]
        if cls is not None or depth is not None:
            hit = alpha > 0.5
            if cls is not None:
                self.lab[hit] = cls
            if depth is not None:
                self.depth[hit] = depth


def sample_attributes(rng: np.random.Generator) -> dict:
    """A coherent random set of attributes (no snowy deserts, no flowers in winter, ...)."""
    scenarios: list[tuple[str, list[tuple[str, float]]]] = [
        (
            "lake",
            [
                ("mountains", 0.85),
                ("snowy peaks", 0.45),
                ("forest", 0.6),
                ("meadow", 0.3),
                ("rocks", 0.3),
                ("flowers", 0.2),
                ("beach", 0.1),
            ],
        ),
        ("sea", [("beach", 0.6), ("rocks", 0.4), ("mountains", 0.25), ("meadow", 0.15)]),
        (
            "river",
            [
                ("meadow", 0.7),
                ("forest", 0.5),
                ("mountains", 0.5),
                ("snowy peaks", 0.3),
                ("flowers", 0.3),
                ("rocks", 0.2),
            ],
        ),
        ("dunes", [("rocks", 0.35), ("mountains", 0.3)]),
        (
            "meadow",
            [("flowers", 0.5), ("forest", 0.5), ("mountains", 0.5), ("snowy peaks", 0.3), ("rocks", 0.2)],
        ),
        (
            "forest",
            [("meadow", 0.4), ("mountains", 0.4), ("snowy peaks", 0.25), ("river", 0.2), ("flowers", 0.15)],
        ),
        (
            "mountains",
            [("snowy peaks", 0.6), ("rocks", 0.5), ("forest", 0.4), ("meadow", 0.4), ("lake", 0.25)],
        ),
    ]
    base, optional = scenarios[int(rng.integers(len(scenarios)))]
    features = {base} | {name for name, p in optional if rng.random() < p}
    time = TIMES[int(rng.integers(len(TIMES)))]
    weather = str(rng.choice(WEATHERS, p=[0.3, 0.2, 0.1, 0.12, 0.1, 0.08, 0.1]))
    season = SEASONS[int(rng.integers(len(SEASONS)))]
    if "dunes" in features:
        season = "summer" if season == "winter" else season
        weather = "clear" if weather == "snowy" else weather
    if weather == "snowy":
        season = "winter"
    if season == "winter":
        features.discard("flowers")
        if "mountains" in features:
            features.add("snowy peaks")
    if "flowers" in features and season == "autumn":
        season = "summer"
    if "snowy peaks" in features:
        features.add("mountains")
    return {"time": time, "weather": weather, "season": season, "features": sorted(features)}


def _check_attributes(attrs: dict) -> None:
    if not isinstance(attrs, dict):
        raise SceneError("scene attributes must be a dict with time, weather, season and features")
    for key, allowed in (("time", TIMES), ("weather", WEATHERS), ("season", SEASONS)):
        if attrs.get(key) not in allowed:
            raise SceneError(f"attribute {key!r} must be one of {allowed}, got {attrs.get(key)!r}")
    feats = attrs.get("features")
    if not isinstance(feats, list | tuple) or not all(f in FEATURES for f in feats):
        raise SceneError(f"attribute 'features' must be a list drawn from {FEATURES}, got {feats!r}")


def render_scene(attrs: dict, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Render one scene from attributes: (uint8 image [size,size,3], uint8 labels [size,size])."""
    _check_attributes(attrs)
    if not isinstance(size, int) or not 16 <= size <= 2048:
        raise SceneError(f"size must be an integer from 16 to 2048, got {size!r}")
    layout = np.random.default_rng(rng.integers(2**63))
    texture = np.random.default_rng(rng.integers(2**63))
    return _Painter(attrs, layout, texture, size).run()


class _Painter:
    """Paints one scene back to front; each method is one layer."""

    def __init__(self, attrs: dict, layout: np.random.Generator, texture: np.random.Generator, size: int):
        self.attrs = attrs
        self.feats = set(attrs["features"])
        self.rng = layout
        self.tex = texture
        self.c = _Canvas(size)
        base = _TIME_STYLES[attrs["time"]]
        tint = layout.uniform(0.9, 1.1, 3).astype(np.float32)  # no two skies quite alike
        self.style = _TimeStyle(
            np.clip(base.top * tint, 0, 1), np.clip(base.mid * tint[::-1], 0, 1), base.horizon, base.sun,
            base.light, base.sun_height, base.cloud_lit, base.cloud_shade,
        )  # fmt: skip
        self.cover, self.grey, light_factor, self.fog, self.sun_visible = _WEATHER[attrs["weather"]]
        self.light = self.style.light * np.float32(light_factor)
        if attrs["weather"] in ("overcast", "rainy", "stormy", "snowy", "foggy"):
            lum = self.light.mean()
            self.light = self.light + (lum - self.light) * 0.5
        self.light = self.light * np.float32(max(1.0, 0.3 / float(self.light.mean())))  # never pitch black
        self.season = attrs["season"]
        self.snow_ground = self.season == "winter" or attrs["weather"] == "snowy"
        has_peaks = bool(self.feats & {"mountains", "snowy peaks"})
        lo, hi = (0.5, 0.64) if has_peaks else (0.4, 0.58)
        if "sea" in self.feats or "dunes" in self.feats:
            lo, hi = lo - 0.04, hi - 0.06
        self.yh = float(layout.uniform(lo, hi))
        self.sun_x = float(layout.uniform(0.15, 0.85))
        self.sun_side = 1.0 if self.sun_x < 0.5 else -1.0
        self.haze = self._haze_color()

    def _haze_color(self) -> np.ndarray:
        h = self.style.horizon * 0.7 + self.style.mid * 0.3
        grey = np.float32(h.mean())
        return h + (grey - h) * np.float32(self.grey * 0.8)

    # -- sky ---------------------------------------------------------------------------------
    def sky(self) -> None:
        c, st = self.c, self.style
        t = np.clip(c.y[:, 0] / self.yh, 0.0, 1.0)
        stops = np.array([0.0, 0.55, 1.0], np.float32)
        grad = np.stack([np.interp(t, stops, [st.top[k], st.mid[k], st.horizon[k]]) for k in range(3)], -1)
        lum = grad.mean(-1, keepdims=True)
        grad = grad + (lum * np.float32(0.9) - grad) * np.float32(self.grey)
        c.img[:] = grad[:, None, :].astype(np.float32)
        night = self.attrs["time"] == "night"
        if self.attrs["time"] in ("night", "dusk") and self.cover < 0.8:
            self._stars(0.6 if self.attrs["time"] == "dusk" else 1.0)
        sun_y = self.yh * (1.0 - st.sun_height) if st.sun_height > 0 else self.yh + 0.02
        d = np.sqrt((c.x - self.sun_x) ** 2 + (c.y - sun_y) ** 2)
        glow_strength = 0.35 if night else 0.55
        if not self.sun_visible:
            glow_strength *= 0.35
        glow = np.exp(-((d / 0.22) ** 2)) * glow_strength + np.exp(-((d / 0.05) ** 2)) * glow_strength
        c.img += (st.sun - c.img) * np.clip(glow, 0, 1)[..., None]
        if self.sun_visible and st.sun_height > 0:
            radius = 0.035 if night else 0.045
            disc = c.edge(radius - d)
            color = st.sun
            if night:
                craters = grid_noise(self.rng, c.size, c.size, 6, 6)
                color = st.sun[None, None, :] * (0.9 + 0.08 * craters[..., None])
            c.paint(disc, color, None)
        self.sun_y = sun_y

    def _stars(self, strength: float) -> None:
        c = self.c
        dots = self.tex.random((c.size, c.size), np.float32)
        density = 0.0025 * (256.0 / c.size) ** 0.5
        bright = np.where(dots < density, 0.5 + dots / density * 0.5, 0.0) * np.clip(
            (self.yh - c.y) / 0.2, 0, 1
        )
        c.img += (bright * strength)[..., None].astype(np.float32)

    def clouds(self) -> None:
        c, st, rng = self.c, self.style, self.rng
        cover = float(np.clip(self.cover + rng.uniform(-0.08, 0.08), 0.02, 0.98))
        shape = fbm(rng, c.size, c.size, cy=int(rng.integers(4, 7)), cx=int(rng.integers(2, 4)), octaves=3)
        detail = fbm(rng, c.size, c.size, cy=20, cx=10, octaves=2)
        n = shape + 0.25 * detail
        thr = NormalDist().inv_cdf(1.0 - cover)
        alpha = np.clip((n - thr + 0.1) / 0.55, 0.0, 1.0)
        alpha = alpha * alpha * (3.0 - 2.0 * alpha) * np.clip((self.yh - c.y) / 0.06, 0.0, 1.0)
        k = max(1, c.size // 24)
        lit = np.clip(0.6 + (shape - np.roll(shape, -k, axis=0)) * 2.5 - (c.y / self.yh) * 0.2, 0.0, 1.0)
        shade, light = st.cloud_shade, st.cloud_lit
        if self.attrs["weather"] in ("stormy", "rainy", "overcast", "snowy"):
            g = np.float32(0.35 if self.attrs["weather"] == "stormy" else 0.6)
            shade = shade * g
            light = light * (g + 0.25)
        if self.grey > 0.3:  # overcast skies: flatter, greyer cloud decks
            lit = 0.35 + 0.4 * lit
        color = shade + (light - shade) * lit[..., None]
        color = color + (color.mean(-1, keepdims=True) - color) * np.float32(self.grey)
        sun_d = np.sqrt((c.x - self.sun_x) ** 2 + (c.y - self.sun_y) ** 2)
        rim = np.exp(-((sun_d / 0.18) ** 2))[..., None] * (0.5 if self.sun_visible else 0.2)
        color = color + (st.sun - color) * rim
        c.paint(alpha * 0.97, color, CLOUD, 1.0)

    # -- far layers ---------------------------------------------------------------------------
    def mountains(self) -> None:
        c, rng = self.c, self.rng
        n_ranges = int(rng.integers(1, 4))
        base_color = _MOUNTAIN[int(rng.integers(len(_MOUNTAIN)))]
        tops: list[np.ndarray] = []
        amps = []
        for k in range(n_ranges):
            rel = k / max(n_ranges - 1, 1) if n_ranges > 1 else 1.0
            amp = float(rng.uniform(0.14, 0.32)) * (1.25 - 0.45 * rel) * self.yh / 0.56
            shape = fbm1d(rng, c.size, cells=int(rng.integers(2, 5)), octaves=5, gain=0.55)
            shape = (shape - shape.min()) / max(float(np.ptp(shape)), 1e-6)
            shape = 0.12 + 0.88 * shape**1.4
            tops.append(self.yh - amp * shape)
            amps.append(amp)
        snowy = "snowy peaks" in self.feats
        # one rock texture shared by all ranges: gullies (streak) and lit/shaded facets
        streak = grid_noise(rng, c.size, c.size, 8, 24)
        relief = fbm(rng, c.size, c.size, cy=5, cx=7, octaves=2)
        kx = max(1, c.size // 64)
        facets = np.tanh((relief - np.roll(relief, kx, axis=1)) * (24.0 * 64 / c.size / kx) * self.sun_side)
        for k, (top, amp) in enumerate(zip(tops, amps, strict=True)):
            rel = k / max(n_ranges - 1, 1) if n_ranges > 1 else 1.0
            aerial = (1.0 - rel) * 0.55 + 0.08
            slope = np.gradient(top) * c.size
            face = np.tanh(slope * 2.5 * self.sun_side)[None, :]
            below = np.clip((c.y - top[None, :]) / max(amp, 1e-3), 0.0, 1.0)
            # a lower, nearer spur of the same range, a little darker: reads as layered relief
            spur = top + amp * float(rng.uniform(0.25, 0.5)) * (
                1.0 + 0.6 * fbm1d(rng, c.size, cells=5, octaves=3)
            )
            spur_face = np.tanh(np.gradient(spur) * c.size * 2.5 * self.sun_side)[None, :]
            below_spur = np.clip((c.y - spur[None, :]) / max(amp, 1e-3), 0.0, 1.0)
            in_spur = c.edge(c.y - spur[None, :]) * np.float32(0.8)
            face = face * np.exp(-below * 4.0)
            face = face + (spur_face * np.exp(-below_spur * 4.0) - face) * in_spur
            face = np.clip(face + 0.45 * facets, -1.0, 1.0)
            shade = 0.84 + 0.24 * face + 0.05 * streak - 0.2 * below - 0.06 * in_spur
            color = base_color * shade[..., None] * self.light
            color = color + (self.haze - color) * np.float32(aerial)
            alpha = c.edge(c.y - top[None, :])
            c.paint(alpha, color, MOUNTAIN, 0.75 + 0.2 * (1.0 - rel))
            if snowy:
                height = self.yh - c.y  # above the horizon, in image units
                line = amp * float(rng.uniform(0.5, 0.72)) + 0.06 * amp * fbm1d(
                    rng, c.size, cells=8, octaves=3
                )
                snow_alpha = alpha * c.edge(height - line[None, :] + 0.12 * amp * streak)
                blue = _SNOW * _rgb(196, 208, 240)
                snow = blue + (_SNOW - blue) * np.clip(face * 0.8 + 0.6 + 0.2 * streak, 0.0, 1.0)[..., None]
                snow = snow * self.light
                snow = snow + (self.haze - snow) * np.float32(aerial * 0.8)
                c.paint(snow_alpha, snow.astype(np.float32), SNOW, None)

    def _tree_colors(self, n: int) -> np.ndarray:
        options = _TREE[self.season]
        return np.stack(
            [options[int(i)] for i in self.rng.integers(len(options), size=n)]
        ) * self.rng.uniform(0.85, 1.15, (n, 1)).astype(np.float32)

    def tree_row(self, base: float, height: float, x0: float, x1: float, depth: float, aerial: float) -> None:
        """A row of trees standing on `base`: conifers, or round crowns in autumn and spring."""
        c, rng = self.c, self.rng
        width = height * 0.32
        count = max(2, int((x1 - x0) / width * rng.uniform(0.8, 1.3)))
        cx = np.sort(rng.uniform(x0, x1, count)).astype(np.float32)
        h = (height * rng.uniform(0.6, 1.3, count)).astype(np.float32)
        w = h * rng.uniform(0.26, 0.4, count).astype(np.float32)
        round_p = {"autumn": 0.75, "spring": 0.35, "summer": 0.3, "winter": 0.0}[self.season]
        round_crown = rng.random(count) < round_p
        u = (c.x[0][None, :] - cx[:, None]) / w[:, None]
        cone = np.clip(1.0 - np.abs(u), 0.0, None)
        dome = np.sqrt(np.clip(1.0 - u * u, 0.0, None)) * 0.8
        prof = h[:, None] * np.where(round_crown[:, None], dome, cone)
        idx = prof.argmax(0)
        top = base - prof.max(0)
        alpha = c.edge(c.y - top[None, :]) * c.edge(base - c.y) * (prof.max(0) > 0)[None, :]
        colors = self._tree_colors(count)[idx]  # (size, 3) per column
        side = np.sign(c.x[0] - cx[idx]) * -self.sun_side
        rel_h = np.clip((base - c.y) / h[idx][None, :], 0.0, 1.0)
        tiers = np.where(round_crown[idx][None, :], 0.0, ((rel_h * 5.0) % 1.0) * 0.18)
        shade = 0.9 + 0.14 * side[None, :] - tiers + 0.15 * (rel_h - 0.5)
        color = colors[None, :, :] * shade[..., None] * self.light
        if self.snow_ground:  # snow lies on the upper side of each tier of branches
            tier = (rel_h * 5.0) % 1.0
            cover = np.clip((tier - 0.55) * 3.0, 0.0, 0.9) * np.where(round_crown[idx], 0.4, 1.0)[None, :]
            color = color + (_SNOW * self.light - color) * cover[..., None]
        color = color + (self.haze - color) * np.float32(aerial)
        c.paint(alpha, color, TREE, depth)

    # -- ground -------------------------------------------------------------------------------
    def ground(self) -> None:
        c, rng = self.c, self.rng
        if "dunes" in self.feats:
            base, cls = _SAND, SAND
        elif self.snow_ground:
            base, cls = _SNOW * 0.96, SNOW
        else:
            base, cls = _GRASS[self.season] * rng.uniform(0.88, 1.12, 3).astype(np.float32), GRASS
        depth_t = np.clip((c.y - self.yh) / (1.0 - self.yh), 0.0, 1.0)
        patches = fbm(rng, c.size, c.size, cy=4, cx=3, octaves=4)
        grain = grid_noise(self.tex, c.size, c.size, c.size // 2, c.size // 4)
        shade = 0.92 + 0.1 * patches + 0.05 * grain + 0.08 * depth_t
        if cls == GRASS:
            hue = np.stack([1.0 + 0.12 * patches, 1.0 + 0.04 * patches, 1.0 - 0.1 * patches], -1)
            color = base * hue * shade[..., None]
        elif cls == SNOW:
            color = base + (_rgb(190, 205, 235) - base) * np.clip(-patches * 0.35, 0, 1)[..., None]
            color = color * (0.98 + 0.03 * grain)[..., None]
        else:
            color = base * shade[..., None]
        color = color * self.light
        aerial = (1.0 - depth_t) ** 3 * 0.5
        color = color + (self.haze - color) * aerial[..., None]
        alpha = c.edge(c.y - self.yh)
        c.paint(alpha, color.astype(np.float32), cls, None)
        c.depth[:] = np.where(c.y > self.yh, 0.7 * (1.0 - depth_t), c.depth)
        self.ground_cls = cls
        if "dunes" in self.feats:
            self._dunes()

    def _dunes(self) -> None:
        c, rng = self.c, self.rng
        n = int(rng.integers(3, 6))
        for k in range(n):
            rel = (k + 1) / (n + 1)
            crest_base = self.yh + (1.0 - self.yh) * (rel**1.6) * 0.9 - 0.01
            amp = 0.03 + 0.08 * rel
            crest = crest_base - amp * (
                0.5 + 0.5 * fbm1d(rng, c.size, cells=int(rng.integers(2, 4)), octaves=3)
            )
            slope = np.gradient(crest) * c.size
            face = np.tanh(slope * 3.0 * self.sun_side)[None, :]
            below = np.clip((c.y - crest[None, :]) / 0.12, 0.0, 1.0)
            shade = 1.0 + 0.22 * face * np.exp(-below * 2.0) - 0.12 * below + 0.08 * (1 - below) ** 8
            color = _SAND * shade[..., None] * self.light
            color = color + (self.haze - color) * np.float32((1 - rel) ** 2 * 0.45)
            c.paint(c.edge(c.y - crest[None, :]), color.astype(np.float32), SAND, 0.6 * (1 - rel))

    def water(self, snapshot: np.ndarray) -> None:
        c, rng = self.c, self.rng
        mask = None
        kind = "lake"
        if "sea" in self.feats:
            kind = "sea"
            shore = self.yh + (1.0 - self.yh) * float(rng.uniform(0.35, 0.7))
            shore = shore + 0.02 * fbm1d(rng, c.size, cells=4, octaves=3)
            mask = c.edge(c.y - self.yh) * c.edge(shore[None, :] - c.y)
            self.shore = shore
        elif "lake" in self.feats:
            depth = (1.0 - self.yh) * float(rng.uniform(0.35, 0.75))
            cx, half = float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.5, 1.2))
            shore = self.yh + depth * np.sqrt(np.clip(1.0 - ((c.x[0] - cx) / half) ** 2, 0.0, 1.0))
            shore = shore + 0.015 * fbm1d(rng, c.size, cells=6, octaves=3)
            mask = c.edge(c.y - self.yh) * c.edge(shore[None, :] - c.y)
            self.shore = shore
        if mask is not None:
            self._paint_water(mask, snapshot, kind)
        if "river" in self.feats:
            t = np.clip((c.y - self.yh) / (1.0 - self.yh), 0.0, 1.0)
            x0 = float(rng.uniform(0.35, 0.65))
            wiggle = 0.12 * fbm1d(rng, c.size, cells=4, octaves=2)[:, None] * t
            centre = x0 + (float(rng.uniform(-0.25, 0.25))) * t**1.5 + wiggle
            half = 0.006 + t * float(rng.uniform(0.12, 0.22))
            river = c.edge(half - np.abs(c.x - centre)) * c.edge(c.y - self.yh - 0.004)
            self._paint_water(river, snapshot, "river")

    def _paint_water(self, mask: np.ndarray, snapshot: np.ndarray, kind: str) -> None:
        c = self.c
        s = c.size
        rows = np.arange(s)[:, None]
        cols = np.arange(s)[None, :]
        hrow = self.yh * s
        ripple = grid_noise(self.tex, s, s, max(4, s // 3), 6)
        wave = np.sin(rows * (0.9 * 128 / s) * np.pi + ripple * 4.0)
        amp = max(1.0, s / 96)
        rx = np.clip(np.round(cols + amp * wave), 0, s - 1).astype(np.int64)
        ry = np.clip(np.round(2 * hrow - rows - 1 + 0.5 * amp * ripple), 0, s - 1).astype(np.int64)
        refl = snapshot[ry, rx]
        t = np.clip((c.y - self.yh) / (1.0 - self.yh), 0.0, 1.0)[..., None]
        base = _WATER[kind] * self.light
        mix = 0.2 + 0.55 * t if kind != "sea" else 0.35 + 0.5 * t
        color = refl * 0.88 + (base - refl * 0.88) * mix
        streak = grid_noise(self.tex, s, s, max(6, s // 2), 8)
        sparkle = np.clip(streak * 2.0 - 0.9, 0.0, 1.0)[..., None] * (0.25 if kind == "sea" else 0.12)
        color = color + (self.haze * 1.1 - color) * sparkle
        c.paint(mask, color.astype(np.float32), WATER, None)
        if kind == "sea":
            foam = c.edge(0.012 - np.abs(c.y - self.shore[None, :] + 0.006)) * (0.5 + 0.5 * (streak > -0.2))
            c.paint(foam * 0.8, (_rgb(240, 244, 248) * self.light).astype(np.float32), None)

    def beach(self) -> None:
        c, rng = self.c, self.rng
        shore = getattr(self, "shore", None)
        if shore is None:
            start = self.yh + (1.0 - self.yh) * 0.45 + 0.02 * fbm1d(rng, c.size, cells=4, octaves=2)
        else:
            start = shore
        to_bottom = "sea" in self.feats and "meadow" not in self.feats
        end = start + (1.0 if to_bottom else float(rng.uniform(0.08, 0.2)))
        grain = grid_noise(self.tex, c.size, c.size, c.size // 2, c.size // 2)
        wet = np.exp(-np.clip(c.y - start[None, :], 0, None) * 40.0)
        color = _SAND * (0.95 + 0.05 * grain - 0.25 * wet)[..., None] * self.light
        alpha = c.edge(c.y - start[None, :] + 0.004) * c.edge(end[None, :] - c.y)
        c.paint(alpha, color.astype(np.float32), SAND, 0.2)

    def rocks(self) -> None:
        c, rng = self.c, self.rng
        n = int(rng.integers(2, 7))
        ys = np.sort(rng.uniform(self.yh + (1 - self.yh) * 0.3, 1.02, n))
        for cy in ys:
            t = (cy - self.yh) / (1.0 - self.yh)
            rx = float(rng.uniform(0.04, 0.11)) * (0.4 + t)
            ry = rx * float(rng.uniform(0.5, 0.85))
            cx = float(rng.uniform(0.05, 0.95))
            dx, dy = (c.x - cx) / rx, (c.y - cy) / ry
            bump = grid_noise(rng, c.size, c.size, 5, 5)
            r = np.sqrt(dx * dx + dy * dy) - 0.25 * bump
            alpha = c.edge((1.0 - r) * ry) * c.edge((cy + ry * 0.35) - c.y)
            lit = np.clip(0.5 - 0.45 * dx * self.sun_side * -1 - 0.45 * dy, 0, 1)
            tone = _ROCK * float(rng.uniform(0.75, 1.15))
            color = tone * (0.55 + 0.7 * lit + 0.1 * bump)[..., None] * self.light
            if self.snow_ground:
                color = color + (_SNOW * self.light - color) * np.clip(-dy - 0.3, 0, 1)[..., None]
            c.paint(alpha, color.astype(np.float32), ROCK, 0.1)

    def flowers(self) -> None:
        c, rng = self.c, self.rng
        region = fbm(rng, c.size, c.size, cy=3, cx=4, octaves=3)
        thr = float(rng.uniform(0.3, 0.9))
        ground = np.isin(c.lab, (GRASS, SNOW))
        near = c.y > self.yh + (1.0 - self.yh) * 0.25
        alpha = np.clip((region - thr) * 8.0, 0.0, 1.0) * ground * near
        if not (alpha > 0.5).any():  # the caption promises flowers: open the densest patch
            peak = float(region[ground & near].max(initial=thr))
            alpha = np.clip((region - peak + 0.25) * 8.0, 0.0, 1.0) * ground * near
        colors = np.stack([_FLOWER[int(i)] for i in rng.choice(len(_FLOWER), 2, replace=False)]) * self.light
        half = max(1, c.size // 96)  # specks of 1-3 px so they read at every size
        cells = -(-c.size // half)
        speck = np.repeat(np.repeat(self.tex.random((cells, cells), np.float32), half, 0), half, 1)
        speck = speck[: c.size, : c.size]
        pick = (speck < 0.5).astype(np.int64)
        dots = np.clip((speck % 0.5) * 4.0 - 0.8, 0.0, 1.0)
        tinted = c.img + (colors.mean(0) - c.img) * np.float32(0.3)
        mixed = tinted + (colors[pick] - tinted) * dots[..., None]
        c.lab[alpha > 0.5] = FLOWER
        c.img += (mixed - c.img) * alpha[..., None]

    # -- weather ------------------------------------------------------------------------------
    def atmosphere(self) -> None:
        c, rng = self.c, self.rng
        fog = self.fog * float(rng.uniform(0.8, 1.1))
        if fog > 0:
            bands = 0.8 + 0.3 * fbm(rng, c.size, c.size, cy=3, cx=2, octaves=2)
            amount = np.clip(fog * c.depth**1.5 * bands, 0.0, 0.92)
            amount = np.where(c.lab == SKY, amount * 0.5, amount)
            c.img += (self.haze - c.img) * amount[..., None]
        weather = self.attrs["weather"]
        if weather in ("rainy", "stormy"):
            self._rain(0.3 if weather == "rainy" else 0.45)
        if weather == "stormy" and rng.random() < 0.5:
            self._lightning()
        if weather == "snowy":
            self._snowfall()

    def _rain(self, strength: float) -> None:
        c = self.c
        s = c.size
        drops = (self.tex.random((s, s), np.float32) < 0.012).astype(np.float32)
        length = max(2, s // 24)
        streaks = np.zeros_like(drops)
        for k in range(length):
            streaks += np.roll(np.roll(drops, k, axis=0), k // 3, axis=1)
        streaks = np.clip(streaks, 0, 1) * strength
        c.img += (np.float32(0.85) - c.img) * streaks[..., None] * 0.6
        c.img *= np.float32(0.92)

    def _lightning(self) -> None:
        c, rng = self.c, self.rng
        x0 = float(rng.uniform(0.2, 0.8))
        end = self.yh * float(rng.uniform(0.7, 1.0))
        path = x0 + np.cumsum(rng.normal(0, 0.025, c.size)).astype(np.float32) * 0.6
        d = np.abs(c.x - path[:, None])
        bolt = c.edge(0.004 - d) * c.edge(end - c.y) * c.edge(c.y - 0.02)
        glow = np.exp(-((d / 0.03) ** 2)) * 0.35 * (c.y < end)
        c.img += (np.float32(0.95) - c.img) * np.clip(bolt + glow, 0, 1)[..., None] * _rgb(240, 240, 255)

    def _snowfall(self) -> None:
        c = self.c
        flakes = self.tex.random((c.size, c.size), np.float32)
        density = 0.004
        dots = np.where(flakes < density, 0.5 + flakes / density * 0.4, 0.0)
        if c.size >= 128:  # two-pixel flakes so they survive downscaling as soft dots
            dots = np.maximum(dots, np.roll(dots, 1, axis=1) * 0.6)
            dots = np.maximum(dots, np.roll(dots, 1, axis=0) * 0.6)
        c.img += (np.float32(0.97) - c.img) * dots[..., None]

    def run(self) -> tuple[np.ndarray, np.ndarray]:
        feats, rng = self.feats, self.rng
        self.sky()
        self.clouds()
        if feats & {"mountains", "snowy peaks"}:
            self.mountains()
        if "forest" in feats:
            span = sorted(rng.uniform(-0.1, 1.1, 2))
            if span[1] - span[0] < 0.4:
                span = [-0.05, 1.05]
            self.tree_row(self.yh + 0.006, 0.05, span[0], span[1], 0.8, 0.3)
        snapshot = self.c.img.copy()
        self.ground()
        self.water(snapshot)
        if "beach" in feats:
            self.beach()
        if "forest" in feats and not feats & {"sea", "lake"}:
            rows = int(rng.integers(1, 3))
            for k in range(rows):
                t = 0.2 + 0.35 * (k + 1) / rows * float(rng.uniform(0.7, 1.0))
                base = self.yh + (1.0 - self.yh) * t
                x0, x1 = sorted(rng.uniform(-0.1, 1.1, 2))
                if x1 - x0 < 0.3:
                    x0, x1 = -0.1, 1.1
                self.tree_row(base, 0.06 + 0.25 * t, x0, x1, 0.5 * (1 - t), 0.15 * (1 - t))
        elif "forest" in feats and rng.random() < 0.7:
            left = rng.random() < 0.5
            x0, x1 = (-0.1, 0.25) if left else (0.75, 1.1)
            self.tree_row(1.02, 0.45, x0, x1, 0.05, 0.0)
        if "rocks" in feats:
            self.rocks()
        if "flowers" in feats:
            self.flowers()
        self.atmosphere()
        image = np.clip(self.c.img * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return image, self.c.lab


def render_scenes(n: int, seed: int, size: int = 256, split: str = "train") -> SceneBatch:
    """Render n scenes; scene i depends only on (seed, i, size), its caption also on split."""
    if not isinstance(n, int) or n < 0:
        raise SceneError(f"n must be a non-negative integer, got {n!r}")
    if split not in SPLITS:
        raise SceneError(f"split must be one of {SPLITS}, got {split!r}")
    if not isinstance(size, int) or not 16 <= size <= 2048:
        raise SceneError(f"size must be an integer from 16 to 2048, got {size!r}")
    images = np.zeros((n, size, size, 3), np.uint8)
    labels = np.zeros((n, size, size), np.uint8)
    attributes: list[dict] = []
    captions: list[str] = []
    for i in range(n):
        attr_rng, render_rng, caption_rng = (
            np.random.default_rng(np.random.SeedSequence(int(seed) & 0xFFFFFFFFFFFFFFFF, spawn_key=(i, k)))
            for k in range(3)
        )
        attrs = sample_attributes(attr_rng)
        images[i], labels[i] = render_scene(attrs, render_rng, size)
        attributes.append(attrs)
        captions.append(make_caption(attrs, caption_rng, split))
    return SceneBatch(images, labels, attributes, captions)
