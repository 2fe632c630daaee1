"""Tests of utils.music and the jazz corpus: reproducible data, token rules, dataset shapes, sound."""
import importlib.util
import re
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy.io import wavfile

from utils import music

ROOT = Path(__file__).resolve().parents[1]
JAZZ = ROOT / "data" / "jazz"
N_VALUES = 89  # the size documented in utils/music.py and data/README.md


def load_generator():
    spec = importlib.util.spec_from_file_location("make_corpus", JAZZ / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- a MIDI file the course did not make

def note(tick, length, pitch, channel, velocity=80):
    """Absolute-tick (tick, message) pairs of one note."""
    return [(tick, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)),
            (tick + length, mido.Message("note_off", channel=channel, note=pitch))]


def foreign_parts(tpb=96):
    """3/4 in A major, 96 ticks per beat: chords (channel 3), a bass line (4), a melody (1)."""
    chords = []
    for bar, pitches in enumerate([(57, 61, 64), (50, 54, 57), (52, 56, 59, 62)]):  # A, D, E7
        for p in pitches:
            chords += note(bar * 3 * tpb, 3 * tpb, p, channel=2)
    bass = [e for beat, p in enumerate([45, 49, 52, 38, 42, 45, 40, 44, 47])
            for e in note(beat * tpb, tpb, p, channel=3)]
    melody = (note(0, tpb, 69, 0)                        # A4   C|1|*
              + note(tpb, 64, 71, 0)                     # B4   S|2/3|+1:2   (a swung eighth pair)
              + note(tpb + 64, 32, 72, 0)                # C5   A|1/3|+1:2   (C natural next to C#)
              + note(2 * tpb, tpb, 73, 0)                # C#5  C|1|+1:2
              + note(4 * tpb, tpb, 79, 0)                # G5   S|1|+5:7     after a one-beat rest
              + note(5 * tpb, tpb // 2, 84, 0)           # C6   X|1/2|+5:7   then half a beat of rest
              + note(6 * tpb + 2, 2 * tpb - 2, 80, 0)    # G#5  C|2|-3:4     two ticks late
              + note(8 * tpb, tpb, 76, 0)                # E5   C|1|-3:4     over a lower B4
              + note(8 * tpb, tpb, 71, 0))
    return {"chords": chords, "bass": bass, "melody": melody}


FOREIGN_TOKENS = [["C|1|*", "S|2/3|+1:2", "A|1/3|+1:2", "C|1|+1:2"],
                  ["R|1", "S|1|+5:7", "X|1/2|+5:7", "R|1/2"],
                  ["C|2|-3:4", "C|1|-3:4"]]


def to_track(events, meta=()):
    track = mido.MidiTrack(meta)
    tick = 0
    for when, msg in sorted(events, key=lambda e: (e[0], e[1].type == "note_on")):
        track.append(msg.copy(time=when - tick))
        tick = when
    return track


def write_foreign(path, midi_type=1, parts=("chords", "bass", "melody")):
    """Write the foreign file: type 1 as a conductor track and a track per part, type 0 as one track."""
    tpb = 96
    meta = [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)),
            mido.MetaMessage("time_signature", numerator=3, denominator=4),
            mido.MetaMessage("key_signature", key="A")]
    events = foreign_parts(tpb)
    mid = mido.MidiFile(type=midi_type, ticks_per_beat=tpb)
    if midi_type == 0:
        mid.tracks.append(to_track([e for name in parts for e in events[name]], meta))
    else:
        mid.tracks.append(mido.MidiTrack(meta))
        mid.tracks += [to_track(events[name]) for name in parts]
    mid.save(path)
    return path


@pytest.mark.parametrize("midi_type, melody_part, chord_part",
                         [(1, (3, 0), (1, 2)), (0, (0, 0), (0, 2))])
def test_load_midi_reads_a_file_the_course_did_not_make(tmp_path, midi_type, melody_part, chord_part):
    """load_midi finds melody and chords by their shape (not by track order), in beats, at any tempo."""
    melody, chords, info = music.load_midi(write_foreign(tmp_path / "foreign.mid", midi_type))
    assert info["ticks_per_beat"] == 96 and info["bpm"] == pytest.approx(90, abs=1e-3)
    assert info["time_signature"] == (3, 4) and info["beats_per_measure"] == 3
    assert (info["melody_part"], info["chord_part"]) == (melody_part, chord_part)
    assert [n.pitch for n in melody] == [69, 71, 72, 73, 79, 84, 80, 76]  # the bass and B4 are gone
    assert [(c.start, c.duration) for c in chords] == [(0, 3), (3, 3), (6, 3)]
    assert [music.chord_symbol(c.pitches) for c in chords] == ["A", "D", "E7"]
    assert music.tokenize_measures(melody, chords, info["beats_per_measure"]) == FOREIGN_TOKENS


def test_missing_file_is_a_clear_error(tmp_path):
    """A missing file raises FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="nope.mid"):
        music.load_midi(tmp_path / "nope.mid")


def test_file_without_chord_track_is_a_clear_error(tmp_path):
    """A file whose parts all play single notes raises ValueError saying the chord track is missing."""
    path = write_foreign(tmp_path / "tune.mid", parts=("bass", "melody"))
    with pytest.raises(ValueError, match="no chord track"):
        music.load_midi(path)


def test_broken_file_is_a_clear_error(tmp_path):
    """Bytes that are not MIDI raise ValueError, not a mido internal error."""
    path = tmp_path / "broken.mid"
    path.write_bytes(b"this is not a MIDI file")
    with pytest.raises(ValueError, match="not a readable MIDI file"):
        music.load_midi(path)


# ---------------------------------------------------------------- harmony

def test_chords_are_named_and_notes_typed():
    """Chord names follow the sounding notes (bass breaks ties); note types follow chord and scale."""
    names = {(50, 53, 57, 60): "Dm7", (43, 53, 59, 62): "G7", (48, 52, 55, 59): "Cmaj7",
             (47, 50, 53, 57): "Bm7b5", (48, 52, 55, 57): "C6", (45, 52, 55, 60): "Am7",
             (48, 51, 55, 57): "Cm6", (43, 47, 50, 53, 56): "G7b9"}
    assert {p: music.chord_symbol(p) for p in names} == names
    g7 = (43, 53, 59, 62)
    assert [music.note_type(p, g7) for p in (71, 69, 68, 66)] == ["C", "S", "A", "A"]
    c_triad = (48, 52, 55)
    assert [music.note_type(p, c_triad) for p in (64, 62, 66, 70)] == ["C", "S", "A", "X"]


# ---------------------------------------------------------------- the corpus

def test_generator_reproduces_committed_files(tmp_path):
    """make_corpus.py, run again, writes the committed MIDI files byte for byte."""
    written = load_generator().make_corpus(tmp_path)
    committed = sorted(JAZZ.glob("*.mid"))
    assert [p.name for p in written] == [p.name for p in committed]
    for new, old in zip(written, committed):
        assert new.read_bytes() == old.read_bytes(), f"{old.name} differs from a fresh run"


def test_corpus_is_small_and_readable():
    """6 to 12 files of a few KB, each with a 4/4 melody and chord track."""
    files = sorted(JAZZ.glob("*.mid"))
    assert 6 <= len(files) <= 12
    for path in files:
        assert path.stat().st_size < 8000
        melody, chords, info = music.load_midi(path)
        assert len(melody) > 40 and len(chords) >= 8 and info["beats_per_measure"] == 4


# ---------------------------------------------------------------- dataset

def test_dataset_shapes_one_hot_and_shift():
    """X and Y are (n_values, 60, 30) one-hot; Y is X moved one step left; vocab is sorted."""
    X, Y, vocab = music.build_dataset(JAZZ, T_x=30, m=60, seed=0)
    assert X.shape == Y.shape == (N_VALUES, 60, 30) and len(vocab) == N_VALUES
    assert vocab == sorted(set(vocab)) and music.END in vocab
    assert np.array_equal(X.sum(axis=0), np.ones((60, 30)))
    assert np.array_equal(Y.sum(axis=0), np.ones((60, 30)))
    assert np.array_equal(Y[:, :, :-1], X[:, :, 1:])
    assert not X[vocab.index(music.END)].any()  # END is only ever a target


def test_dataset_windows_come_from_the_files_and_are_seeded():
    """Each X row is a run of one file's tokens and Y's last step the token after it; seed decides."""
    X, Y, vocab = music.build_dataset(JAZZ, seed=3)
    streams = [music.file_tokens(p) + [music.END] for p in sorted(JAZZ.glob("*.mid"))]
    for i in range(X.shape[1]):
        window = [vocab[j] for j in X[:, i, :].argmax(axis=0)]
        after = vocab[Y[:, i, -1].argmax()]
        assert any(s[k:k + 30] == window and s[k + 30] == after
                   for s in streams for k in range(len(s) - 30))
    assert np.array_equal(X, music.build_dataset(JAZZ, seed=3)[0])
    assert not np.array_equal(X, music.build_dataset(JAZZ, seed=4)[0])


def test_last_target_of_a_file_is_end(tmp_path):
    """A window that ends its file has END as its last target (here the only window, drawn 3 times)."""
    path = write_foreign(tmp_path / "foreign.mid")
    X, Y, vocab = music.build_dataset([path], T_x=10, m=3, seed=0)
    tokens = [t for measure in FOREIGN_TOKENS for t in measure]
    assert X.shape == (len(set(tokens)) + 1, 3, 10)
    assert [vocab[j] for j in X[:, 0].argmax(axis=0)] == tokens
    assert [vocab[j] for j in Y[:, 2].argmax(axis=0)] == tokens[1:] + [music.END]


# ---------------------------------------------------------------- back to notes and sound

def test_tokens_to_midi_round_trip(tmp_path):
    """Corpus tokens realised over the file's chords read back as the same tokens, for any seed."""
    source = JAZZ / "blues_F.mid"
    _, chords, _ = music.load_midi(source)
    tokens = music.file_tokens(source)
    for seed in (0, 1):
        path = tmp_path / f"solo{seed}.mid"
        melody = music.tokens_to_midi(tokens + [music.END, "C|1|0"], chords, path, seed=seed)
        mid = mido.MidiFile(path)
        assert [t.name for t in mid.tracks] == ["melody", "chords"]
        assert len(melody) == sum(not t.startswith("R") for t in tokens)
        assert music.file_tokens(path) == tokens
    # a whole solo pins its pitches down; the first notes leave the seed some choice
    openings = {tuple(n.pitch for n in music.tokens_to_notes(tokens[:6], chords, seed)[0])
                for seed in range(4)}
    assert len(openings) > 1


def test_tokens_to_notes_keeps_timing_and_types_of_any_tokens():
    """Random vocabulary tokens: onsets are the running sum of durations, and every type is kept."""
    _, chords, _ = music.load_midi(JAZZ / "ii_V_I_C.mid")
    vocab = music.build_dataset(JAZZ)[2]
    rng = np.random.default_rng(0)
    tokens = [vocab[i] for i in rng.integers(1, len(vocab), size=80)]  # vocab[0] is END
    melody, covering = music.tokens_to_notes(tokens, chords, seed=0)
    notes = [t for t in tokens if not t.startswith("R")]
    onsets = np.cumsum([0.0] + [float(Fraction(t.split("|")[1])) for t in tokens])[:-1]
    note_onsets = [o for o, t in zip(onsets, tokens) if t[0] != "R"]
    assert [n.start for n in melody] == pytest.approx(note_onsets)
    got = [music.note_type(n.pitch, music.chord_at(covering, n.start).pitches) for n in melody]
    assert got == [t[0] for t in notes]
    total = onsets[-1] + float(Fraction(tokens[-1].split("|")[1]))
    assert len(covering) > len(chords)                                  # the progression was repeated
    assert covering[-1].start + covering[-1].duration == pytest.approx(total)   # and cut where the tokens end


def test_chords_end_with_a_short_solo(tmp_path):
    """A solo shorter than its progression gets the chords up to its end only: no chords alone after it."""
    _, chords, _ = music.load_midi(JAZZ / "ii_V_I_C.mid")                 # 64 beats of chords
    tokens = ["C|1|*", "S|1/2|+1:2", "R|1/2", "C|3|-3:4", "S|4/3|+1:2", "R|2/3"]   # 7 beats
    melody, covering = music.tokens_to_notes(tokens, chords, seed=0)
    assert [c.start for c in covering] == [c.start for c in chords if c.start < 7]
    assert covering[-1].start + covering[-1].duration == pytest.approx(7)
    assert music.tokens_to_notes([], chords)[1] == []
    path = tmp_path / "short.mid"
    music.write_midi(path, melody, covering, bpm=120)
    assert mido.MidiFile(path).length == pytest.approx(7 * 60 / 120)    # 7 beats at 120 bpm, not 32 s


def test_bad_token_is_a_clear_error():
    """A string that is not a token raises ValueError quoting it."""
    chords = [music.Chord(0.0, 4.0, (48, 52, 55))]
    with pytest.raises(ValueError, match=re.escape("'Q|1|0'")):
        music.tokens_to_notes(["C|1|*", "Q|1|0"], chords)


def test_wav_has_midi_duration_and_sound(tmp_path):
    """The WAV is 22050 Hz mono int16, as long as the MIDI file (within a sample), and not silent."""
    _, chords, _ = music.load_midi(JAZZ / "ii_V_I_F.mid")
    tokens = music.file_tokens(JAZZ / "ii_V_I_F.mid")[:24]
    midi = tmp_path / "short.mid"
    music.tokens_to_midi(tokens, chords, midi, seed=0, bpm=150)
    wav = music.midi_to_wav(midi, tmp_path / "short.wav")
    rate, samples = wavfile.read(wav)
    assert rate == 22050 and samples.dtype == np.int16 and samples.ndim == 1
    assert abs(samples.size - mido.MidiFile(midi).length * rate) <= 1
    assert np.sqrt(np.mean(samples.astype(float) ** 2)) > 1000  # full scale is 32767
    assert type(music.play(wav)).__name__ == "Audio"


def test_piano_roll_draws_notes_and_chords():
    """One rectangle per melody note and per chord pitch, on the Axes given (or a new one)."""
    melody, chords, _ = music.load_midi(JAZZ / "ii_V_I_C.mid")
    ax = Figure().add_subplot()
    assert music.piano_roll(melody, chords, ax=ax) is ax
    assert len(ax.patches) == len(melody) + sum(len(c.pitches) for c in chords)
    import matplotlib.pyplot as plt  # the Agg backend: tests/conftest.py sets MPLBACKEND
    new = music.piano_roll(melody[:5])
    assert len(new.patches) == 5
    plt.close(new.figure)
