"""Make the raw audio of the trigger-word assignment: spoken words and 10-second backgrounds.

    .venv/bin/python data/trigger/make_clips.py            # rewrites data/trigger/{train,dev}/ and clips.csv

Everything is made here, from a fixed seed; nothing is recorded or downloaded.

- Words are spoken by espeak-ng (the libespeak-ng bundled in the PyPI wheel ``espeakng-loader``, a
  development dependency pinned in requirements-dev.txt), called through ctypes. A *voice* is an
  espeak-ng English accent plus a voice variant, e.g. ``en-gb-scotland+m3``. Every voice says
  "activate" (positives) and other words (negatives: near misses such as "activity", "captivate",
  "motivate", "active", and ordinary words) at several speeds and pitches.
- The split is by voice, and stricter than that: the dev set's variants (timbres) are never used by a
  training voice, so no dev voice is heard in training.
- Backgrounds are synthesised with numpy: white, pink and brown noise, mains hum (50 or 60 Hz and its
  harmonics), rain-like crackle, far-off babble (quiet espeak-ng sentences of the split's own voices,
  muffled and smeared), and soft tones.

Output: 44,100 Hz mono 16-bit WAV. Words are trimmed of silence and peak-normalised to PEAK; backgrounds
are 10 s long at a quiet level (the training-example maker applies random gains). ``clips.csv`` lists every
file with its split, kind, voice, word, speed and pitch.

espeak-ng's Klatt variants draw noise from a generator whose state carries from one utterance to the next,
so the files depend on the order of synthesis: the script always speaks in the same order, from a fresh
process (tests/test_trigger_data.py runs it in a subprocess and compares with the committed files).
"""
import csv
import ctypes
import os
import sys
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import fftconvolve, resample_poly

SEED = 20261202
RATE = 44100                  # samples per second of every file written
BACKGROUND_SECONDS = 10
PEAK = 0.6                    # peak amplitude of a word clip, as a fraction of full scale
HERE = Path(__file__).resolve().parent

ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
           "en-us-nyc")
TRAIN_VARIANTS = ("m1", "m2", "m3", "m5", "m6", "m7", "f1", "f2", "f4", "f5", "klatt", "klatt2", "klatt3",
                  "klatt5", "croak", "Alex", "Andy", "Annie", "Gene", "Jacky", "Lee", "Michael", "Reed",
                  "adam", "anika", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward",
                  "grandma", "grandpa", "ian", "iven", "john", "linda", "max", "norbert", "paul", "quincy",
                  "rob", "robert", "shelby", "steph", "travis", "victor", "zac")
DEV_VARIANTS = ("m4", "m8", "f3", "klatt4", "klatt6", "Alicia", "Hugo", "Mario", "Storm", "edward2", "iven3",
                "steph2")

TRIGGER = "activate"
NEAR_MISSES = ("activity", "captivate", "motivate", "active", "activist", "cultivate", "navigate", "actor",
               "captivity", "derivative")
ORDINARY = ("hello", "weather", "music", "kitchen", "morning", "seven", "computer", "banana", "tomorrow",
            "garden", "yellow", "coffee", "window", "river", "picture", "letter", "basket", "station",
            "purple", "number", "evening", "dinner", "teacher", "happy", "forest", "travel", "question",
            "umbrella", "dragon", "pencil", "lemon", "blanket", "orange", "butter", "holiday", "mountain",
            "telephone", "elephant", "chocolate", "saturday")
# Sentences for the far-off babble: ordinary words only, never the trigger or a near miss.
BABBLE_WORDS = ("the", "a", "we", "they", "went", "to", "see", "and", "then", "it", "was", "very", "quite",
                "after", "before", "with", "from", "our", "their", "old", "new", "little", "big", "green",
                "walked", "talked", "found", "said", "made", "took") + ORDINARY

SPEEDS = (125, 145, 165, 185, 210, 235)     # espeak-ng words per minute
PITCHES = (20, 32, 44, 56, 68, 80)          # espeak-ng pitch, 0..99

# (split, activates per voice, negatives per voice, number of voices)
PLAN = {"train": (3, 4, len(TRAIN_VARIANTS)), "dev": (4, 5, len(DEV_VARIANTS))}
BACKGROUND_KINDS = {
    "train": ("white", "pink", "brown", "hum50", "hum60", "rain", "babble", "tones"),
    "dev": ("pink", "hum50", "rain", "babble"),
}


# --------------------------------------------------------------------------- espeak-ng through ctypes

class Espeak:
    """libespeak-ng, synchronous, its audio handed back as int16 arrays at ``self.rate`` (22,050 Hz)."""

    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
    _SYNCHRONOUS = 2                   # espeak_AUDIO_OUTPUT: AUDIO_OUTPUT_SYNCHRONOUS (no playback, no thread)
    _RATE, _PITCH, _RANGE = 1, 3, 4    # espeak_PARAMETER ids
    _POS_CHARACTER = 1

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError as exc:     # a development dependency, not a student one
            raise RuntimeError("make_clips.py needs espeak-ng: pip install -r requirements-dev.txt "
                               "(it pins espeakng-loader, which bundles libespeak-ng)") from exc
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.libc = ctypes.CDLL(None)
        self.noise_seed = 1
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                          ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self._chunks = []
        self._callback = self._CALLBACK(self._collect)             # kept alive as long as self
        self.rate = self.lib.espeak_Initialize(self._SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({self.rate})")
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, n, events):
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        return 0

    def say(self, text, voice, speed=175, pitch=50, pitch_range=50):
        """Speak ``text`` with ``voice`` ("accent+variant"). Returns int16 samples (n,) at self.rate."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        for param, value in ((self._RATE, speed), (self._PITCH, pitch), (self._RANGE, pitch_range)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        self._chunks = []
        self.lib.espeak_ng_SetRandSeed(self.noise_seed)   # breathy variants draw noise: same seed each word
        self.libc.srand(self.noise_seed)                  # (and libc's rand(), which espeak-ng also calls)
        data = text.encode() + b"\0"
        if self.lib.espeak_Synth(data, len(data), 0, self._POS_CHARACTER, 0, 0, None, None) != 0:
            raise RuntimeError(f"espeak_Synth failed on {text!r} with {voice!r}")
        self.lib.espeak_Synchronize()
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)


# --------------------------------------------------------------------------- audio helpers

def to_rate(samples, rate):
    """int16 or float samples (n,) at ``rate`` -> float64 (n * RATE / rate,) at RATE, in [-1, 1] scale."""
    x = np.asarray(samples, np.float64) / 32768.0
    g = np.gcd(RATE, rate)
    return resample_poly(x, RATE // g, rate // g)


def trim(x, threshold=0.02, margin=0.01):
    """Cut the silence before and after a word. x (n,) float; keeps ``margin`` seconds either side of the
    first and last sample whose magnitude exceeds threshold * max|x|, with 5 ms fades."""
    loud = np.flatnonzero(np.abs(x) > threshold * np.max(np.abs(x)))
    pad = int(margin * RATE)
    x = x[max(loud[0] - pad, 0):loud[-1] + pad + 1].copy()
    fade = min(int(0.005 * RATE), len(x) // 2)
    ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
    x[:fade] *= ramp
    x[len(x) - fade:] *= ramp[::-1]
    return x


def to_int16(x):
    """float samples in [-1, 1] -> int16 (rounded, clipped)."""
    return np.clip(np.round(np.asarray(x) * 32767.0), -32768, 32767).astype(np.int16)


def write_wav(path, x):
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, RATE, to_int16(x))


def coloured_noise(n, exponent, rng):
    """Noise of n samples whose power falls as 1 / f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / RATE)
    spectrum *= np.maximum(f, 20.0) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x ** 2))


def lowpass(x, cutoff):
    """Brick-wall low-pass in the frequency domain (fine for noise beds). x (n,)."""
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1.0 / RATE) > cutoff] = 0.0
    return np.fft.irfft(spectrum, len(x))


def slow_envelope(n, rng, low=0.4, changes_per_second=0.5):
    """A smooth random gain curve (n,) between low and 1."""
    knots = int(BACKGROUND_SECONDS * changes_per_second) + 2
    values = rng.uniform(low, 1.0, knots)
    return np.interp(np.linspace(0, knots - 1, n), np.arange(knots), values)


# --------------------------------------------------------------------------- backgrounds

def background(kind, rng, espeak, voices):
    """One 10-second background (BACKGROUND_SECONDS * RATE,) float64 of the given kind, quiet (RMS 0.01-0.04).

    kind: white, pink, brown, hum50, hum60, rain, babble or tones; voices: the split's voices (for babble).
    """
    n = BACKGROUND_SECONDS * RATE
    t = np.arange(n) / RATE
    floor = 0.05 * coloured_noise(n, 1.0, rng)                      # a faint pink floor under everything
    if kind in ("white", "pink", "brown"):
        x = coloured_noise(n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind], rng)
        x *= slow_envelope(n, rng, low=0.7)
    elif kind.startswith("hum"):
        f0 = float(kind[3:]) * rng.uniform(0.995, 1.005)
        x = sum(k ** -1.2 * rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
                for k in range(1, 8))
        x = x * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)) + 0.1 * coloured_noise(n, 0.0, rng)
    elif kind == "rain":
        drops = np.zeros(n)
        count = int(rng.uniform(300, 900) * BACKGROUND_SECONDS)
        drops[rng.integers(0, n, count)] = rng.lognormal(0.0, 0.8, count) * rng.choice((-1.0, 1.0), count)
        grain_len = int(0.004 * RATE)
        grain = rng.standard_normal(grain_len) * np.exp(-np.arange(grain_len) / (0.0008 * RATE))
        x = fftconvolve(drops, grain)[:n]
        x = x / np.sqrt(np.mean(x ** 2)) + 0.5 * lowpass(coloured_noise(n, 1.0, rng), 6000.0)
    elif kind == "babble":
        x = np.zeros(n)
        for _ in range(int(rng.integers(4, 7))):
            voice = voices[int(rng.integers(len(voices)))]
            words = rng.choice(BABBLE_WORDS, size=int(rng.integers(5, 10)))
            speech = to_rate(espeak.say(" ".join(words), voice, speed=int(rng.choice(SPEEDS)),
                                        pitch=int(rng.choice(PITCHES))), espeak.rate)
            speech = speech[:n] / (np.max(np.abs(speech)) + 1e-9)
            start = int(rng.integers(0, n - len(speech) // 2))
            piece = speech[:n - start]
            x[start:start + len(piece)] += rng.uniform(0.3, 1.0) * piece
        tail_len = int(0.25 * RATE)                                    # a room's smear, then far away
        tail = rng.standard_normal(tail_len) * np.exp(-np.arange(tail_len) / (0.06 * RATE))
        x = lowpass(fftconvolve(x, tail)[:n], 2500.0)
        x = x / np.sqrt(np.mean(x ** 2)) + 0.3 * coloured_noise(n, 1.0, rng)
    elif kind == "tones":
        x = np.zeros(n)
        base = rng.choice((110.0, 130.8, 146.8, 164.8, 196.0))
        for ratio in rng.choice((1.0, 1.25, 1.5, 2.0, 2.5, 3.0), size=int(rng.integers(2, 5)), replace=False):
            x += np.sin(2 * np.pi * base * ratio * t + rng.uniform(0, 2 * np.pi)) * slow_envelope(n, rng, 0.1)
        x += 0.1 * coloured_noise(n, 1.0, rng)
    else:
        raise ValueError(f"unknown background kind {kind!r}")
    x = x / np.sqrt(np.mean(x ** 2)) + floor
    return x * (rng.uniform(0.01, 0.04) / np.sqrt(np.mean(x ** 2)))


# --------------------------------------------------------------------------- the whole set

def voices_of(split, rng):
    """The split's voices: each variant once, with an accent drawn so that every accent is used."""
    variants = TRAIN_VARIANTS if split == "train" else DEV_VARIANTS
    accents = [ACCENTS[i % len(ACCENTS)] for i in rng.permutation(len(variants))]
    return [f"{a}+{v}" for a, v in zip(accents, variants)]


def make_clips(out_dir=HERE, seed=SEED):
    """Write every clip under out_dir/{train,dev}/{activates,negatives,backgrounds}/ and out_dir/clips.csv.

    Returns the list of rows written to clips.csv (dicts: path, split, kind, voice, word, speed, pitch).
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    espeak = Espeak()
    rows = []
    for split, (n_act, n_neg, _) in PLAN.items():
        voices = voices_of(split, rng)
        for voice in voices:
            name = voice.replace("+", "_")
            words = [TRIGGER] * n_act
            n_near = n_neg // 2
            words += list(rng.choice(NEAR_MISSES, n_near, replace=False))
            words += list(rng.choice(ORDINARY, n_neg - n_near, replace=False))
            for i, word in enumerate(words):
                speed, pitch = int(rng.choice(SPEEDS)), int(rng.choice(PITCHES))
                pitch_range = int(rng.integers(20, 90))
                x = trim(to_rate(espeak.say(word, voice, speed, pitch, pitch_range), espeak.rate))
                x *= PEAK / np.max(np.abs(x))
                kind = "activates" if word == TRIGGER else "negatives"
                rel = Path(split) / kind / f"{name}_{word}_{i}.wav"
                write_wav(out_dir / rel, x)
                rows.append({"path": rel.as_posix(), "split": split, "kind": kind, "voice": voice, "word": word,
                             "speed": speed, "pitch": pitch})
        for i, kind in enumerate(BACKGROUND_KINDS[split]):
            rel = Path(split) / "backgrounds" / f"bg{i:02d}_{kind}.wav"
            write_wav(out_dir / rel, background(kind, rng, espeak, voices))
            rows.append({"path": rel.as_posix(), "split": split, "kind": "backgrounds", "voice": "", "word": "",
                         "speed": "", "pitch": ""})
    with open(out_dir / "clips.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    written = make_clips(target)
    size = sum(os.path.getsize(target / r["path"]) for r in written)
    print(f"wrote {len(written)} files, {size / 1e6:.1f} MB, under {target}")
