"""Sound-driven animation: one frame per moment of a sound, each a sound edit of the same picture.

Every frame keeps the recipe's latent and sketch (so the composition holds still) while its
conditioning follows the sound: the window of audio around the frame's time is embedded, the
embeddings are smoothed over time (no flicker), and the edit strength follows the loudness.
Frames are written as a GIF (Pillow) or an MP4 with the sound muxed in (ffmpeg from
imageio-ffmpeg).
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from studio.inference.audio_encoder import AudioEncoder, blend_toward, loudness_strength
from studio.inference.pipeline import AssetSource, Pipeline, PipelineError
from studio.recipe import Recipe

log = logging.getLogger(__name__)
MAX_FRAMES = 3000  # 2 minutes at 25 frames/s
Progress = Callable[[int, int], bool]  # (done, total) -> keep going


def frame_conditioning(
    encoder: AudioEncoder, samples: np.ndarray, fps: float, smoothing: float = 0.6
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame sound embeddings [F, D] (exponentially smoothed) and loudness strengths [F]."""
    rate, window = encoder.rate, encoder.window
    if len(samples) == 0:
        raise PipelineError("the sound is empty")
    count = max(1, int(len(samples) / rate * fps))
    if count > MAX_FRAMES:
        raise PipelineError(f"the sound makes {count} frames; the limit is {MAX_FRAMES} (use a shorter clip)")
    padded = np.pad(samples.astype(np.float32), (window // 2, window), mode="wrap")
    starts = (np.arange(count) / fps * rate).astype(np.int64)
    windows = np.stack([padded[s : s + window] for s in starts])
    embeddings = np.concatenate([encoder.embed_windows(windows[i : i + 64]) for i in range(0, count, 64)])
    loud = np.array([loudness_strength(w[window // 4 : 3 * window // 4]) for w in windows], dtype=np.float32)
    for i in range(1, count):
        embeddings[i] = smoothing * embeddings[i - 1] + (1.0 - smoothing) * embeddings[i]
        loud[i] = smoothing * loud[i - 1] + (1.0 - smoothing) * loud[i]
    embeddings /= np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-8)
    return embeddings, loud


def render_animation(
    pipe: Pipeline,
    recipe: Recipe,
    samples: np.ndarray,
    fps: float = 12.0,
    strength: float = 0.8,
    follow_loudness: bool = True,
    assets: AssetSource | None = None,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """Frames (HxWx3 uint8) of `recipe` edited by the sound over time; stops early if progress says so."""
    info = pipe.registry.get(recipe.model)
    audio_info = pipe.audio_encoder_for(info)
    encoder = AudioEncoder(pipe.engine.session(audio_info.path), audio_info)
    sounds, loudness = frame_conditioning(encoder, samples, fps)
    prompt = pipe.encode_text(info, [recipe.prompt])[0]
    frames: list[np.ndarray] = []
    base = recipe.replace(sound=None, strength=0.0)
    for start in range(0, len(sounds), 16):
        batch = []
        for sound, loud in zip(sounds[start : start + 16], loudness[start : start + 16], strict=True):
            amount = strength * (loud if follow_loudness else 1.0)
            vector = blend_toward(prompt, sound, float(amount))
            batch.append(base.replace(extra={**base.extra, "text_embedding": vector.tolist()}))
        frames.extend(pipe.render(batch, assets))
        if progress is not None and not progress(len(frames), len(sounds)):
            break
    return frames


def write_gif(frames: list[np.ndarray], path: Path, fps: float) -> Path:
    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=int(round(1000 / fps)), loop=0, optimize=False
    )
    return path


def write_mp4(frames: list[np.ndarray], path: Path, fps: float, wav: Path | None = None) -> Path:
    """H.264 MP4 (yuv420p, plays everywhere) with the WAV muxed in as AAC when given."""
    import imageio_ffmpeg

    height, width = frames[0].shape[:2]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error"]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-"]
    if wav is not None:
        command += ["-i", str(wav), "-c:a", "aac", "-shortest"]
    command += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", str(path)]
    result = subprocess.run(command, input=b"".join(f.tobytes() for f in frames), capture_output=True)
    if result.returncode != 0:
        raise PipelineError(
            f"ffmpeg could not write {path.name}: {result.stderr.decode(errors='replace')[-300:]}"
        )
    return path


def write_animation(frames: list[np.ndarray], path: Path, fps: float, wav: Path | None = None) -> Path:
    """GIF or MP4 by the file's suffix."""
    if not frames:
        raise PipelineError("no frames to write")
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return write_gif(frames, path, fps)
    if suffix == ".mp4":
        return write_mp4(frames, path, fps, wav)
    raise PipelineError(f"animations are written as .gif or .mp4, not {suffix or 'no suffix'}")
