"""Audio players for notebooks that keep the saved notebook small.

A notebook embeds its players in the saved file, so a 30-second WAV at 11,025 Hz (660 KB as 16-bit,
about 880 KB as base64) ends up in every submission. ``player`` encodes MP3 instead (about 30 KB for the
same 30 s, 20 times smaller), with the libsndfile that the ``soundfile`` wheel carries, so no system codec
(ffmpeg, lame) is needed. Where soundfile or its MP3 support is missing, it falls back to WAV and says so
once.

    from utils import audio
    audio.player(samples, rate)          # samples: float array (n,) in [-1, 1], or int16
    audio.player_from_file("solo.wav")   # any file soundfile (or scipy for WAV) can read
"""
import io
import warnings

import numpy as np

_warned = []
MP3_RATES = (16000, 22050, 24000, 32000, 44100, 48000)   # the sample rates of MPEG-1 and MPEG-2 layer III


def mp3_bytes(samples, rate):
    """MP3 bytes of mono ``samples`` at ``rate`` Hz, or None when this machine's soundfile cannot write MP3."""
    try:
        import soundfile
    except (ImportError, OSError):
        return None
    x = np.asarray(samples)
    if x.dtype.kind in "iu":
        x = x.astype(np.float32) / max(1, np.iinfo(x.dtype).max)
    x = np.clip(np.asarray(x, dtype=np.float32).reshape(-1), -1.0, 1.0)
    rate = int(rate)
    if rate not in MP3_RATES:   # 8,000 or 11,025 Hz would be "MPEG 2.5", which not every browser plays
        from math import gcd
        from scipy.signal import resample_poly
        to = min((r for r in MP3_RATES if r >= rate), default=MP3_RATES[-1])
        g = gcd(to, rate)
        x = np.clip(resample_poly(x, to // g, rate // g), -1.0, 1.0).astype(np.float32)
        rate = to
    buf = io.BytesIO()
    try:
        soundfile.write(buf, x, rate, format="MP3", subtype="MPEG_LAYER_III")
    except Exception:  # noqa: BLE001 - an old libsndfile without MP3: fall back to WAV
        return None
    return buf.getvalue()


def player(samples, rate):
    """An IPython audio player for mono ``samples`` (n,) at ``rate`` Hz, embedded as MP3 (WAV as a fallback)."""
    from IPython.display import Audio
    x = np.asarray(samples)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"samples should be a non-empty 1-D array, got shape {x.shape}")
    if not rate or rate <= 0:
        raise ValueError(f"rate should be a positive number of samples per second, got {rate!r}")
    data = mp3_bytes(x, rate)
    if data is None:
        if not _warned:
            _warned.append(True)
            warnings.warn("soundfile cannot write MP3 here; the audio is embedded as WAV (a larger notebook)")
        return Audio(x, rate=rate)
    out = Audio(data=data)
    out.mimetype = "audio/mpeg"
    return out


def read(path):
    """(samples (n,) float in [-1, 1], rate) of an audio file (the first channel of a stereo one)."""
    try:
        import soundfile
        x, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return x[:, 0], rate
    except (ImportError, OSError):
        from scipy.io import wavfile
        rate, x = wavfile.read(str(path))
        x = x[:, 0] if x.ndim == 2 else x
        if x.dtype.kind in "iu":
            x = x.astype(np.float32) / np.iinfo(x.dtype).max
        return x.astype(np.float32), rate


def player_from_file(path):
    """An audio player for a file (see ``player``)."""
    samples, rate = read(path)
    return player(samples, rate)
