"""The translator's manifest fields (kind "translator"), checked when the registry loads one.

    resolution   R: the square size the graph works at
    style_dim    S: width of the optional `style` input (0 or absent: no style input)
    crop         "center": pictures are centre-cropped to a square, then resized to R
    domains      [A, B]: the two picture domains, e.g. ["day", "night"]
    directions   [{"from": A, "to": B, "output": "to_B"}, …]: which output translates which way
    upscaler     optional: an upscaler with input size R for pictures shown larger than R
inputs: `image` [N,3,R,R] in [-1, 1] (+ `style` [N,S]); one [N,3,R,R] output per direction.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.inference.manifest import TensorSpec, _Checker

DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CROPS = ("center",)


def translator_fields(c: _Checker, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]) -> dict:
    resolution = c.positive_int("resolution")
    image = c.require_tensor(inputs, "inputs", "image", 4)
    c.dim_matches(image, "inputs", 1, 3, "the number of colour channels")
    for axis in (2, 3):
        c.dim_matches(image, "inputs", axis, resolution, "resolution")
    style_dim = c.get("style_dim", int, required=False, default=0)
    if style_dim < 0:
        raise c.fail("style_dim", f"must be 0 or more, not {style_dim}")
    has_style = any(s.name == "style" for s in inputs)
    if has_style != (style_dim > 0):
        raise c.fail("style_dim", f"is {style_dim} but the inputs {'list' if has_style else 'lack'} 'style'")
    if has_style:
        style = c.require_tensor(inputs, "inputs", "style", 2)
        c.dim_matches(style, "inputs", 1, style_dim, "style_dim")
    crop = c.get("crop", str, required=False, default="center")
    if crop not in CROPS:
        raise c.fail("crop", f"must be one of {list(CROPS)}, not {crop!r}")
    domains = c.strings("domains")
    if len(domains) != 2 or len(set(domains)) != 2 or not all(DOMAIN_RE.match(d) for d in domains):
        raise c.fail("domains", f"must name two different lowercase domains, not {list(domains)}")
    directions = c.get("directions", list)
    if not directions:
        raise c.fail("directions", "must list at least one direction")
    seen = set()
    for i, entry in enumerate(directions):
        where = f"directions[{i}]"
        if not isinstance(entry, dict):
            raise c.fail(where, "must be an object with from, to and output")
        src, dst, out = entry.get("from"), entry.get("to"), entry.get("output")
        if src not in domains or dst not in domains or src == dst:
            raise c.fail(where, f"must go from one of {list(domains)} to the other, not {src!r} → {dst!r}")
        if (src, dst) in seen:
            raise c.fail(where, f"repeats the direction {src} → {dst}")
        seen.add((src, dst))
        spec = next((s for s in outputs if s.name == out), None)
        if spec is None:
            raise c.fail(f"{where}.output", f"names {out!r}, which is not among the outputs")
        c.require_tensor(outputs, "outputs", spec.name, 4)
        c.dim_matches(spec, "outputs", 1, 3, "the number of colour channels")
        for axis in (2, 3):
            c.dim_matches(spec, "outputs", axis, resolution, "resolution")
    upscaler = c.get("upscaler", str, required=False)
    return {"resolution": resolution, "upscaler": upscaler or None}
