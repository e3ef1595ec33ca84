"""Sketch fidelity: does the generated image still segment into the label map it was painted from?

The shipped segmenter reads the generator's output back into a label map; the mIoU against the
input sketch says how well the generator follows sketches. The same segmenter on the real
renders of those sketches is the ceiling (a perfect generator scores about that).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.inference.manifest import ModelInfo
from studio.inference.pipeline import Pipeline
from studio.inference.segmenter import Segmenter, confusion, scores


def _segment_at(segmenter: Segmenter, images: np.ndarray, size: int) -> np.ndarray:
    """Label maps at `size` (nearest resize when the segmenter works at another resolution)."""
    maps = segmenter.segment(list(images))
    if segmenter.resolution != size:
        maps = [np.asarray(Image.fromarray(m).resize((size, size), Image.Resampling.NEAREST)) for m in maps]
    return np.stack(maps)


def sketch_fidelity(
    pipe: Pipeline, generator: ModelInfo, labels: np.ndarray, generated: np.ndarray, real: np.ndarray
) -> dict | None:
    """mIoU of segment(generated) vs the input label maps, and of segment(real renders) as the
    ceiling; None when no installed segmenter speaks the generator's label classes."""
    seg_info = pipe.registry.segmenter_for(generator)
    if seg_info is None:
        return None
    segmenter = Segmenter(pipe.engine, seg_info)
    names = [c.name for c in generator.label_classes]
    size = labels.shape[-1]
    result: dict = {"segmenter": seg_info.name, "segmenter_version": seg_info.version}
    for key, images in (("generated", generated), ("real_renders", real)):
        predicted = _segment_at(segmenter, images, size)
        result[key] = scores(confusion(predicted, labels, len(names)), names)
    return result
