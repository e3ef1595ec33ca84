"""Recording from a microphone (or a file played live) into a checked `Audio`.

A `Recorder` takes chunks from an `AudioSource` on the source's own thread, keeps them, and
exposes live meters and the latest seconds for live edits. Two sources exist: the microphone
through sounddevice (PortAudio), and `WavSource`, which plays a file in real time (the app's
"play a file live", and the stand-in for a microphone in tests). sounddevice is imported
inside functions: without libportaudio its import raises OSError, and the studio must still
start and import sound files.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np

from studio.audio.io import FLOOR_DB, SAMPLE_RATE, Audio, read_frames, resample, to_audio, to_db

log = logging.getLogger(__name__)

NO_MICROPHONE = "No microphone found: connect one or import a sound file."


class RecorderError(RuntimeError):
    """Recording cannot start or produced nothing; the message is for the user."""


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int
    default_rate: float


def _sounddevice() -> ModuleType:
    """Import sounddevice, or raise RecorderError saying why sound input is unavailable."""
    try:
        import sounddevice
    except (OSError, ImportError) as exc:  # no libportaudio on this machine
        raise RecorderError(
            f"Sound input is unavailable (PortAudio could not be loaded: {exc}). Import a sound file instead."
        ) from exc
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """The microphones PortAudio sees; [] (with the reason logged) when there are none or it fails."""
    try:
        sd = _sounddevice()
        devices = sd.query_devices()
    except Exception as exc:  # PortAudio failures must never take the studio down
        log.warning("cannot list sound input devices: %s", exc)
        return []
    return [
        InputDevice(
            int(d["index"]), str(d["name"]), int(d["max_input_channels"]), float(d["default_samplerate"])
        )
        for d in devices
        if d["max_input_channels"] > 0
    ]


class AudioSource(Protocol):
    """Delivers float32 [frames, channels] chunks at `rate` from its own thread until stopped."""

    rate: int
    channels: int

    def start(self, on_chunk: Callable[[np.ndarray], None], on_error: Callable[[str], None]) -> None: ...

    def stop(self) -> None: ...


class SoundDeviceSource:
    """A microphone through sounddevice.InputStream (records at its default rate if `rate` is refused).

    A device that is unplugged either ends the stream (PortAudio's finished callback) or just
    stops calling back, depending on the host API; a watchdog turns a silence of STALL_SECONDS
    without callbacks into the same `on_error`.
    """

    STALL_SECONDS = 2.0

    def __init__(self, device: int | None = None, rate: int = SAMPLE_RATE, channels: int = 1) -> None:
        self.device = device
        self.rate = rate
        self.channels = channels
        self._stream = None
        self._halt = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._last_chunk = 0.0
        self._lock = threading.Lock()

    def start(self, on_chunk: Callable[[np.ndarray], None], on_error: Callable[[str], None]) -> None:
        sd = _sounddevice()
        try:
            info = sd.query_devices(self.device, kind="input")
        except (sd.PortAudioError, ValueError) as exc:
            raise RecorderError(NO_MICROPHONE) from exc
        if not info or info["max_input_channels"] < 1:
            raise RecorderError(NO_MICROPHONE)
        self.channels = min(self.channels, int(info["max_input_channels"]))

        def callback(indata: np.ndarray, frames: int, when: object, status: object) -> None:
            self._last_chunk = time.monotonic()
            if status:  # overflow: some audio was dropped; the recording goes on
                log.warning("sound input status: %s", status)
            on_chunk(indata.copy())

        def finished() -> None:
            if not self._halt.is_set():  # PortAudio ended the stream by itself: the device went away
                on_error("the input device was disconnected")

        self._halt.clear()
        stream = None
        for rate in dict.fromkeys((self.rate, int(info["default_samplerate"]))):
            try:
                stream = sd.InputStream(
                    device=self.device,
                    samplerate=rate,
                    channels=self.channels,
                    dtype="float32",
                    callback=callback,
                    finished_callback=finished,
                )
                self.rate = rate
                break
            except sd.PortAudioError as exc:
                log.warning("input device refused %d Hz: %s", rate, exc)
        if stream is None:
            raise RecorderError(f"The microphone '{info['name']}' could not be opened. Try another device.")
        with self._lock:
            self._stream = stream
            self._last_chunk = time.monotonic()
            try:
                stream.start()
            except sd.PortAudioError as exc:
                self._stream = None
                stream.close()
                raise RecorderError(f"The microphone '{info['name']}' could not be started ({exc}).") from exc
            self._watchdog = threading.Thread(target=self._watch, args=(on_error,), daemon=True)
            self._watchdog.start()

    def _watch(self, on_error: Callable[[str], None]) -> None:
        while not self._halt.wait(0.5):
            if time.monotonic() - self._last_chunk > self.STALL_SECONDS:
                on_error("the input device stopped sending sound")
                return

    def stop(self) -> None:
        with self._lock:
            self._halt.set()
            stream, self._stream = self._stream, None
            watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join()
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # the device may already be gone; nothing is left to release
                log.warning("closing the sound input failed: %s", exc)


class WavSource:
    """Plays a sound file's chunks from a thread: in real time (a live file), or as fast as possible.

    `fail_after_seconds` reports an error after that much audio, as a microphone being unplugged
    would, so that path can be exercised without hardware.
    """

    def __init__(
        self,
        path: Path,
        chunk_seconds: float = 0.05,
        realtime: bool = True,
        loop: bool = False,
        fail_after_seconds: float | None = None,
    ) -> None:
        self.frames, self.rate, _ = read_frames(Path(path))
        self.channels = self.frames.shape[1]
        self.chunk = max(1, int(round(chunk_seconds * self.rate)))
        self.realtime = realtime
        self.loop = loop
        self.fail_after = None if fail_after_seconds is None else int(round(fail_after_seconds * self.rate))
        self._stop = threading.Event()
        self._done = threading.Event()
        self._done.set()
        self._thread: threading.Thread | None = None

    def start(self, on_chunk: Callable[[np.ndarray], None], on_error: Callable[[str], None]) -> None:
        self.stop()
        self._stop.clear()
        self._done.clear()
        self._thread = threading.Thread(target=self._run, args=(on_chunk, on_error), daemon=True)
        self._thread.start()

    def _run(self, on_chunk: Callable[[np.ndarray], None], on_error: Callable[[str], None]) -> None:
        sent, pos, t0 = 0, 0, time.monotonic()
        try:
            while not self._stop.is_set():
                if self.fail_after is not None and sent >= self.fail_after:
                    on_error("the input device was disconnected")
                    return
                if pos >= len(self.frames):
                    if not self.loop:
                        return
                    pos = 0
                n = self.chunk if self.fail_after is None else min(self.chunk, self.fail_after - sent)
                block = self.frames[pos : pos + n]
                pos, sent = pos + len(block), sent + len(block)
                on_chunk(block.copy())
                if self.realtime:
                    self._stop.wait(max(0.0, t0 + sent / self.rate - time.monotonic()))
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the file has been played (or failed, or was stopped); False on timeout."""
        return self._done.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()


class Recorder:
    """Collects a source's chunks (thread-safe) and turns them into a checked mono `Audio`.

    Stops itself after `max_seconds` of audio or when the source reports an error, keeping what
    it has; `stop()` then returns it with a warning saying why it ended early.
    """

    def __init__(self, source: AudioSource, rate: int = SAMPLE_RATE, max_seconds: float = 30.0) -> None:
        self.source = source
        self.rate = rate
        self.max_seconds = max_seconds
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._frames = 0
        self._recording = False
        self._source_live = False
        self._ended: str | None = None
        self._level_db = FLOOR_DB
        self._peak_db = FLOOR_DB
        self._listeners: list[Callable[[np.ndarray], None]] = []
        self._releaser: threading.Thread | None = None

    @property
    def is_recording(self) -> bool:
        return self._recording

    @property
    def elapsed(self) -> float:
        """Seconds of audio received (not wall time)."""
        return self._frames / self.source.rate

    @property
    def level_db(self) -> float:
        """RMS dBFS of the latest chunk (FLOOR_DB before any)."""
        return self._level_db

    @property
    def peak_db(self) -> float:
        """Peak dBFS of the latest chunk (FLOOR_DB before any)."""
        return self._peak_db

    def add_listener(self, callback: Callable[[np.ndarray], None]) -> None:
        """Call `callback(mono float32 chunk at source.rate)` on the source's thread for each chunk."""
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[np.ndarray], None]) -> None:
        with self._lock:
            self._listeners.remove(callback)

    def start(self) -> None:
        self._wait_released()
        with self._lock:
            if self._recording:
                raise RecorderError("Already recording.")
            self._chunks, self._frames, self._ended = [], 0, None
            self._level_db = self._peak_db = FLOOR_DB
            self._recording = self._source_live = True
        try:
            self.source.start(self._on_chunk, self._on_error)
        except Exception:
            with self._lock:
                self._recording = self._source_live = False
            raise

    def _on_chunk(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk, dtype=np.float32)
        mono = chunk.mean(axis=1, dtype=np.float32) if chunk.ndim == 2 else chunk.copy()
        with self._lock:
            if not self._recording:
                return
            room = int(round(self.max_seconds * self.source.rate)) - self._frames
            if len(mono) >= room:
                mono = mono[:room]
                self._end(f"Recording stopped at the {self.max_seconds:g} s limit.")
            self._chunks.append(mono)
            self._frames += len(mono)
            if len(mono):
                self._level_db = to_db(float(np.sqrt(np.mean(np.square(mono, dtype=np.float64)))))
                self._peak_db = to_db(float(np.max(np.abs(mono))))
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(mono)
            except Exception:  # a broken listener must not kill the audio thread
                log.exception("sound listener failed")

    def _on_error(self, message: str) -> None:
        with self._lock:
            if self._recording:
                seconds = self._frames / self.source.rate
                self._end(f"The input device stopped ({message}): kept the first {seconds:.1f} s.")

    def _end(self, reason: str) -> None:
        """Stop taking audio (lock held) and release the source off the source's own thread."""
        self._recording = False
        self._ended = reason
        self._releaser = threading.Thread(target=self._release_source, daemon=True)
        self._releaser.start()

    def _release_source(self) -> None:
        with self._lock:
            live, self._source_live = self._source_live, False
        if live:
            self.source.stop()

    def _wait_released(self) -> None:
        """Wait for a source release begun by an automatic stop, so a restart cannot race it."""
        releaser = self._releaser
        if releaser is not None and releaser is not threading.current_thread():
            releaser.join()

    def stop(self) -> Audio:
        """End the recording and return it as mono `Audio` at `rate`, with its warnings."""
        with self._lock:
            if not self._recording and self._ended is None and not self._chunks:
                raise RecorderError("Nothing was recorded: start a recording first.")
            self._recording = False
        self._release_source()
        self._wait_released()
        with self._lock:
            samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
            ended = self._ended
        if not len(samples):
            raise RecorderError("Nothing was recorded: the input sent no sound. Check the microphone.")
        warnings = (ended,) if ended else ()
        audio = to_audio(samples, self.source.rate, self.rate, warnings, label="the recording")
        return Audio(audio.samples, audio.rate, self.source.rate, self.source.channels, audio.warnings)

    def recent(self, seconds: float) -> np.ndarray:
        """The last `seconds` of mono audio at `rate` (shorter early on), for live edits."""
        want = int(round(seconds * self.source.rate))
        with self._lock:
            parts, have = [], 0
            for chunk in reversed(self._chunks):
                if have >= want:
                    break
                parts.append(chunk)
                have += len(chunk)
        tail = np.concatenate(parts[::-1])[-want:] if parts and want > 0 else np.zeros(0, np.float32)
        return resample(tail, self.source.rate, self.rate)[: int(round(seconds * self.rate))]
