"""A bank of a shipped generator's own pictures, for an upscaler's second critic stream.

An upscaler trained only on downscaled renders sharpens what a render holds; a generator's
picture lacks the finest texture (stars, flower dots, rain streaks), so the upscaler adds little
to it (`studio eval`: the last octave at 0.37 of the renders'). A critic that also sees the
upscaled generator pictures, against real 256 px renders, asks the upscaler to draw that texture.
The bank is rendered once per run through the app's own pipeline (the generator's manifest,
latent temperature and edge fill included) from training-split scenes, half with their sketch.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from studio.world.scene import render_scenes

log = logging.getLogger(__name__)
BANK_FILE = "generated_inputs.npy"
BANK_SEED = 60_000  # training-split scenes, apart from every eval seed (10,000–50,000)


def generated_bank(model: str, n: int, resolution: int, out_dir: Path) -> np.ndarray:
    """[n, R, R, 3] uint8 pictures of `model` at its own resolution (no upscaler), cached in the
    run folder so a resumed run trains on the same bank."""
    path = Path(out_dir) / BANK_FILE
    if path.is_file():
        bank = np.load(path, allow_pickle=False)
        if bank.shape == (n, resolution, resolution, 3) and bank.dtype == np.uint8:
            return bank
        log.warning("%s does not match this config (%s); rendering it again", path, bank.shape)
    from studio.inference.layout import index_png
    from studio.inference.pipeline import MemoryAssets, Pipeline

    pipe = Pipeline()
    info = pipe.registry.get(model)
    if info.kind != "generator" or info.resolution != resolution:
        raise ValueError(f"gen_inputs {model!r} must be a {resolution} px generator, not {info.resolution}")
    scenes = render_scenes(n, seed=BANK_SEED, size=resolution, split="train")
    sketches = MemoryAssets()
    recipes = []
    for i, caption in enumerate(scenes.captions):
        recipe = pipe.recipes_for(caption, seed=BANK_SEED + i, count=1, model=model, size=resolution)[0]
        if i % 2 == 0:
            recipe = recipe.replace(sketch=sketches.put(index_png(scenes.labels[i])))
        recipes.append(recipe)
    bank = np.stack(pipe.render(recipes, sketches, preview=True))
    np.save(path, bank, allow_pickle=False)
    log.info("rendered %d pictures of %s %s for the upscaler's critic", n, info.name, info.version)
    return bank
