"""Sound-driven animation: one frame per moment of a sound, each a sound edit of the same picture.

Every frame keeps the recipe's latent and sketch (so the composition holds still) while its
conditioning follows the sound: the window of audio around the frame's time is embedded, the
embeddings are smoothed over time (no flicker), and the edit strength follows the loudness.
Frames are written as a GIF (Pillow) or an MP4 with the sound muxed in (ffmpeg from
imageio-ffmpeg).
"""

from __future__ import annotations

import itertools
import logging
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from studio.inference.audio_encoder import AudioEncoder, blend_toward, loudness_strength
from studio.inference.pipeline import AssetSource, Pipeline, PipelineError
from studio.inference.sound_pin import pinned
from studio.limits import memory_limit, require
from studio.recipe import Recipe

log = logging.getLogger(__name__)
MAX_FRAMES = 3000  # 2 minutes at 25 frames/s
BATCH = 16  # frames per generator run when memory allows
Progress = Callable[[int, int], bool]  # (done, total) -> keep going


def frame_conditioning(
    encoder: AudioEncoder, samples: np.ndarray, fps: float, smoothing: float = 0.6
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame sound embeddings [F, D] (exponentially smoothed) and loudness strengths [F]."""
    rate, window = encoder.rate, encoder.window
    if len(samples) == 0:
        raise PipelineError("the sound is empty")
    count = frame_count(len(samples), rate, fps)
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


def frame_count(samples: int, rate: int, fps: float) -> int:
    """How many frames a sound of `samples` at `rate` makes at `fps`."""
    return max(1, int(samples / rate * fps))


def animation_frames(
    pipe: Pipeline,
    recipe: Recipe,
    samples: np.ndarray,
    fps: float = 12.0,
    strength: float = 0.8,
    follow_loudness: bool = True,
    assets: AssetSource | None = None,
    progress: Progress | None = None,
) -> Iterator[np.ndarray]:
    """Frames (HxWx3 uint8) of `recipe` edited by the sound over time, rendered a batch at a time as
    they are consumed, so only one batch is ever held (a 4096 px frame is 50 MB); stops early if
    progress says so."""
    info = pipe.registry.get(recipe.model)
    audio_info = pipe.audio_encoder_for(info)
    encoder = AudioEncoder(pipe.engine.session(audio_info.path), audio_info)
    sounds, loudness = frame_conditioning(encoder, samples, fps)
    prompt = pipe.encode_text(info, [recipe.prompt])[0]
    base = pinned(recipe.replace(sound=None, strength=0.0), audio_info)  # the frames' sounds were heard by it
    step = max(1, min(BATCH, memory_limit() // (6 * recipe.size * recipe.size)))
    done = 0
    for start in range(0, len(sounds), step):
        batch = []
        for sound, loud in zip(sounds[start : start + step], loudness[start : start + step], strict=True):
            amount = strength * (loud if follow_loudness else 1.0)
            vector = blend_toward(prompt, sound, float(amount))
            batch.append(base.replace(extra={**base.extra, "text_embedding": vector.tolist()}))
        frames = pipe.render(batch, assets)
        done += len(frames)
        keep_going = progress is None or progress(done, len(sounds))
        yield from frames
        if not keep_going:
            return


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
    """Every frame of animation_frames in a list, for callers that count or show them first."""
    return list(animation_frames(pipe, recipe, samples, fps, strength, follow_loudness, assets, progress))


def require_gif_memory(count: int, size: int) -> None:
    """Pillow's GIF encoder holds every frame (a byte a pixel) until the file is written."""
    require(
        count * size * size,
        f"a GIF of {count} frames of {size} px",
        "write an .mp4 (its frames are streamed) or use a smaller size",
    )


def write_gif(frames: Iterator[np.ndarray], path: Path, fps: float) -> Path:
    images = (Image.fromarray(f) for f in frames)
    first = next(images)
    duration = int(round(1000 / fps))
    first.save(path, save_all=True, append_images=images, duration=duration, loop=0, optimize=False)
    return path


def write_mp4(frames: Iterator[np.ndarray], path: Path, fps: float, wav: Path | None = None) -> Path:
    """H.264 MP4 (yuv420p, plays everywhere) with the WAV muxed in as AAC when given; each frame is
    piped to ffmpeg as it comes."""
    import imageio_ffmpeg

    first = next(frames)
    height, width = first.shape[:2]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error"]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-"]
    if wav is not None:
        command += ["-i", str(wav), "-c:a", "aac", "-shortest"]
    command += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", str(path)]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        assert process.stdin is not None
        try:
            for frame in itertools.chain([first], frames):
                process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            pass  # ffmpeg stopped reading: its exit status and message say why
        finally:
            process.stdin.close()
            returncode = process.wait()
        errors.seek(0)
        message = errors.read().decode(errors="replace")[-300:]
    if returncode != 0:
        raise PipelineError(f"ffmpeg could not write {path.name}: {message}")
    return path


def write_animation(frames: Iterable[np.ndarray], path: Path, fps: float, wav: Path | None = None) -> Path:
    """GIF or MP4 by the file's suffix; `frames` may be a list or a stream (animation_frames)."""
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise PipelineError(f"animations are written as .gif or .mp4, not {suffix or 'no suffix'}")
    stream = iter(frames)
    first = next(stream, None)
    if first is None:
        raise PipelineError("no frames to write")
    frames_again = itertools.chain([first], stream)
    if suffix == ".gif":
        return write_gif(frames_again, path, fps)
    return write_mp4(frames_again, path, fps, wav)
