"""Capture augmentation: make clean clips sound like something a microphone picked up.

Synthesised sounds and package recordings are clean; what the app hears comes from a laptop
microphone in a room, a phone recording, a file someone normalised too hard. Each function
here imitates one of those differences, takes a float32 mono clip and a seeded
`numpy.random.Generator`, and returns a clip of the same length that is finite and within
[-1, 1] (the same generator state gives the same result). `augment` chains them at random.

Filters work on the FFT of the whole clip (one forward and one inverse transform each), so a
2 s window costs well under a millisecond per step.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

RATE = 16000
LIMIT = 0.999  # no output sample exceeds this


def _finish(x: np.ndarray) -> np.ndarray:
    """float32, finite, peak at most LIMIT (scaled down, never clipped, so shapes survive)."""
    x = np.asarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > LIMIT:
        x = x * np.float32((LIMIT - 1e-6) / peak)  # the margin survives rounding to float32
    return x


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def gain(x: np.ndarray, rng: np.random.Generator, low_db: float = -24.0, high_db: float = 6.0) -> np.ndarray:
    """Random level: recordings arrive anywhere from whisper-quiet to hot; the encoder must hear
    the kind, not the loudness (the app maps loudness to edit strength separately)."""
    return _finish(x * 10 ** (rng.uniform(low_db, high_db) / 20))


@lru_cache(maxsize=8)
def _unit_circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    """e^{-jw} and e^{-2jw} on the rfft bins of an n-sample signal (shared by every filter)."""
    z = np.exp(-2j * np.pi * np.arange(n // 2 + 1) / n).astype(np.complex64)
    z.setflags(write=False)
    z2 = z * z
    z2.setflags(write=False)
    return z, z2


def _biquad_response(kind: str, freq: float, gain_db: float, q: float, rate: int, n: int) -> np.ndarray:
    """Magnitude-and-phase response on the rfft bins of an RBJ-cookbook biquad."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / rate
    alpha = np.sin(w0) / (2 * q)
    cos = np.cos(w0)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cos, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos, 1 - alpha / a]
    else:
        sq = 2 * np.sqrt(a) * alpha
        sign = 1 if kind == "low" else -1
        b = [
            a * ((a + 1) - sign * (a - 1) * cos + sq),
            sign * 2 * a * ((a - 1) - sign * (a + 1) * cos),
            a * ((a + 1) - sign * (a - 1) * cos - sq),
        ]
        den = [
            (a + 1) + sign * (a - 1) * cos + sq,
            -sign * 2 * ((a - 1) + sign * (a + 1) * cos),
            (a + 1) + sign * (a - 1) * cos - sq,
        ]
    z, z2 = _unit_circle(n)
    return (b[0] + b[1] * z + b[2] * z2) / (den[0] + den[1] * z + den[2] * z2)


def equalize(x: np.ndarray, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """One to three random shelf/peak filters (±12 dB): microphones, speakers and rooms colour
    the spectrum, so the encoder should not rely on one exact spectral balance."""
    n = len(x)
    if n < 4:
        return _finish(x)
    response = np.ones(n // 2 + 1, dtype=np.complex64)
    for _ in range(int(rng.integers(1, 4))):
        kind = ("low", "high", "peak")[int(rng.integers(3))]
        freq = float(np.exp(rng.uniform(np.log(80.0), np.log(0.45 * rate))))
        response *= _biquad_response(
            kind, freq, float(rng.uniform(-12, 12)), float(rng.uniform(0.5, 2.0)), rate, n
        )
    return _finish(np.fft.irfft(np.fft.rfft(np.asarray(x, dtype=np.float32)) * response, n))


def room_reverb(x: np.ndarray, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """Convolve with a synthetic room: the direct sound, a few sparse early reflections within
    50 ms, then exponentially decaying noise (RT60 0.15-1.2 s), mixed wet/dry. Indoor captures
    smear onsets (thunder claps, footsteps) in time; a dry-trained encoder mistakes the smear
    for wind."""
    n = len(x)
    rt60 = rng.uniform(0.15, 1.2)
    length = min(n, int(rt60 * rate))
    if length < 16:
        return _finish(x)
    t = np.arange(length, dtype=np.float32) / rate  # the tail falls 60 dB by rt60
    ir = rng.standard_normal(length, dtype=np.float32) * np.exp(-6.9 * t / rt60).astype(np.float32) * 0.3
    for _ in range(int(rng.integers(2, 7))):
        ir[int(rng.integers(1, max(2, min(length, int(0.05 * rate)))))] += rng.uniform(0.2, 0.7)
    ir[0] = 1.0
    size = 1 << int(np.ceil(np.log2(n + length)))
    dry = np.asarray(x, dtype=np.float32)
    wet = np.fft.irfft(np.fft.rfft(dry, size) * np.fft.rfft(ir, size), size)[:n]
    wet *= _rms(x) / max(_rms(wet), 1e-12)
    mix = rng.uniform(0.3, 1.0)
    return _finish((1 - mix) * x + mix * wet)


def colored_noise(n: int, rng: np.random.Generator, slope: float) -> np.ndarray:
    """Unit-RMS noise whose power falls as 1/f**slope (0 white, 1 pink, 2 brown)."""
    freqs = np.fft.rfftfreq(n).astype(np.float32)
    freqs[0] = freqs[1] if n > 1 else 1.0
    white = rng.standard_normal(2 * len(freqs), dtype=np.float32).view(np.complex64)
    spectrum = white * freqs ** np.float32(-slope / 2)
    noise = np.fft.irfft(spectrum, n)
    return noise / max(_rms(noise), 1e-12)


def noise_bed(
    x: np.ndarray, rng: np.random.Generator, low_snr_db: float = 5.0, high_snr_db: float = 35.0
) -> np.ndarray:
    """Add white, pink or brown noise at a random SNR: fans, traffic rumble, preamp hiss sit
    under every real capture."""
    noise = colored_noise(len(x), rng, float(rng.choice([0.0, 1.0, 2.0])))
    snr = rng.uniform(low_snr_db, high_snr_db)
    return _finish(x + noise * _rms(x) * 10 ** (-snr / 20))


def mix_in(
    x: np.ndarray, other: np.ndarray, rng: np.random.Generator, low_db: float, high_db: float
) -> np.ndarray:
    """`other` (looped or cut to `x`'s length) added `low_db..high_db` relative to `x` by RMS."""
    if len(other) == 0 or _rms(other) == 0:
        return _finish(x)
    reps = -(-len(x) // len(other))
    start = int(rng.integers(0, len(other)))
    other = np.tile(np.roll(other, -start), reps)[: len(x)]
    scale = _rms(x) / max(_rms(other), 1e-12) * 10 ** (rng.uniform(low_db, high_db) / 20)
    return _finish(x + other * scale)


def background(x: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another clip far below (-30..-15 dB): a real scene always has something else faintly in it,
    which must not change what the encoder names. Keep the labels of `x`."""
    return mix_in(x, other, rng, -30.0, -15.0)


def two_sources(x: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two sounds at comparable levels (-6..0 dB): rain with wind, fire with crickets. The caller
    labels the result with both kinds."""
    return mix_in(x, other, rng, -6.0, 0.0)


def clipping(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drive into hard or soft clipping (6-24 dB over): phone and webcam captures of loud sounds
    (thunder, close fire) arrive flattened, with the harmonics clipping adds."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 0:
        return _finish(x)
    driven = x / peak * 10 ** (rng.uniform(6, 24) / 20)
    shaped = np.clip(driven, -1.0, 1.0) if rng.random() < 0.5 else np.tanh(driven)
    return _finish(shaped * rng.uniform(0.5, 1.0))


def low_rate_mic(x: np.ndarray, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """Down to 8 kHz (or 11.025 kHz) and back, by FFT (an ideal anti-alias filter, then the
    shorter signal, then zero-padding back up): telephone-band and cheap-microphone recordings
    lose everything above 4-5.5 kHz, where birds and crickets live; the encoder should still
    use what is left."""
    n = len(x)
    low = 8000 if rng.random() < 0.6 else 11025
    m = int(n * low // rate)
    if m < 2:
        return _finish(x)
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float32))
    short = np.fft.irfft(spectrum[: m // 2 + 1], m) * (m / n)  # the clip at the low rate
    back = np.fft.irfft(np.fft.rfft(short), n) * (n / m)
    return _finish(back)


def augment(
    x: np.ndarray,
    rng: np.random.Generator,
    other: np.ndarray | None = None,
    rate: int = RATE,
    p: float = 0.5,
) -> np.ndarray:
    """A random chain of the above, each step with probability `p` (background only when `other`
    is given): EQ, background, room, noise bed, low-rate mic, clipping, gain. Same length, finite,
    peak ≤ LIMIT; the caller keeps the clip's labels (`two_sources` is left to the caller, which
    must change them)."""
    out = _finish(x)
    if rng.random() < p:
        out = equalize(out, rng, rate)
    if other is not None and rng.random() < p:
        out = background(out, other, rng)
    if rng.random() < p:
        out = room_reverb(out, rng, rate)
    if rng.random() < p:
        out = noise_bed(out, rng)
    if rng.random() < p * 0.5:
        out = low_rate_mic(out, rng, rate)
    if rng.random() < p * 0.3:
        out = clipping(out, rng)
    return gain(out, rng)
