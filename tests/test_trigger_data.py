"""Tests of the trigger-word data (data/trigger/): the script reproduces the committed WAV files, the split is
by voice, the formats and the size budget hold."""
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

ROOT = Path(__file__).resolve().parent.parent
TRIGGER = ROOT / "data" / "trigger"
RATE = 44100


def rows():
    with open(TRIGGER / "clips.csv", newline="") as f:
        return list(csv.DictReader(f))


def variant(voice):
    return voice.split("+", 1)[1]


def test_espeak_ng_is_installed():
    """The development requirements bring espeak-ng (the espeakng-loader wheel bundles libespeak-ng)."""
    import espeakng_loader
    assert Path(espeakng_loader.get_library_path()).is_file()
    assert Path(espeakng_loader.get_data_path()).is_dir()


def test_make_clips_reproduces_the_committed_files(tmp_path):
    """make_clips.py, run again in a fresh process, writes the same files: the same list, the same WAV headers
    and lengths, and samples equal to within 1 step of 16 bits (here they are byte-identical; one step is
    allowed for rounding differences of other libm or scipy builds)."""
    out = tmp_path / "trigger"
    done = subprocess.run([sys.executable, str(TRIGGER / "make_clips.py"), str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (out / "clips.csv").read_bytes() == (TRIGGER / "clips.csv").read_bytes()
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav"))
    committed = sorted(p.relative_to(TRIGGER).as_posix() for p in TRIGGER.rglob("*.wav"))
    assert made == committed
    different = []
    for rel in committed:
        a, b = (TRIGGER / rel).read_bytes(), (out / rel).read_bytes()
        if a == b:
            continue
        ra, xa = wavfile.read(TRIGGER / rel)
        rb, xb = wavfile.read(out / rel)
        assert (ra, xa.shape, xa.dtype) == (rb, xb.shape, xb.dtype), rel
        worst = int(np.max(np.abs(xa.astype(np.int32) - xb.astype(np.int32))))
        assert worst <= 1, f"{rel}: samples differ by up to {worst}"
        different.append(rel)
    print(f"{len(committed) - len(different)} of {len(committed)} files byte-identical")


def test_clip_list_formats_and_size():
    """clips.csv lists exactly the WAV files present; every file is 44,100 Hz mono int16; backgrounds are
    10 s long; words are short; data/trigger stays under 40 MB."""
    listed = rows()
    on_disk = sorted(p.relative_to(TRIGGER).as_posix() for p in TRIGGER.rglob("*.wav"))
    assert sorted(r["path"] for r in listed) == on_disk
    for r in listed:
        rate, x = wavfile.read(TRIGGER / r["path"])
        assert rate == RATE and x.dtype == np.int16 and x.ndim == 1, r["path"]
        if r["kind"] == "backgrounds":
            assert len(x) == 10 * RATE, r["path"]
        else:
            assert 0.1 * RATE < len(x) < 2.0 * RATE, r["path"]
            assert np.max(np.abs(x)) > 10000, r["path"]           # peak-normalised speech, not silence
    total = sum(p.stat().st_size for p in TRIGGER.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert total < 40e6, f"data/trigger holds {total / 1e6:.1f} MB"


def test_split_by_voice():
    """No dev voice, nor any dev voice variant (timbre), is heard in training; both splits have positives,
    near misses and ordinary negatives, and every voice says "activate"."""
    listed = [r for r in rows() if r["kind"] != "backgrounds"]
    voices = {s: {r["voice"] for r in listed if r["split"] == s} for s in ("train", "dev")}
    assert voices["train"].isdisjoint(voices["dev"])
    assert {variant(v) for v in voices["train"]}.isdisjoint({variant(v) for v in voices["dev"]})
    assert len(voices["train"]) >= 40 and len(voices["dev"]) >= 10
    for split in ("train", "dev"):
        said = [r for r in listed if r["split"] == split]
        assert {r["voice"] for r in said if r["word"] == "activate"} == voices[split]
        words = {r["word"] for r in said if r["kind"] == "negatives"}
        assert "activate" not in words
        assert words & {"activity", "captivate", "motivate", "active"}
        assert len(words) > 20
        assert all((r["kind"] == "activates") == (r["word"] == "activate") for r in said)
