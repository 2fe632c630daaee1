"""Make the jazz corpus: seeded solos over ii-V-I progressions and 12-bar blues, one MIDI file each.

    .venv/bin/python data/jazz/make_corpus.py            # rewrites data/jazz/*.mid
    .venv/bin/python data/jazz/make_corpus.py --out DIR  # writes them to DIR instead

Each file has a melody track (the solo) and a chord track (held four-note voicings, root in the bass).
The solo is made bar by bar. First a swung rhythm: long-short eighth pairs, triplets, quarters, now
and then a run of sixteenths, rests and pickups; a phrase ends on a long note followed by a rest.
Then a pitch for each note: a chord tone (most often on the beat and on long notes), a scale tone
(most often off the beat) or a chromatic approach tone that resolves by a semitone to a chord tone;
lines move mostly by step and turn around at the edges of the register. Pitches are chosen by
utils.music.choose_pitch, with the costs that also turn generated tokens back into notes.

Every file has its own seed; the MIDI writer stores no timestamps, so running this again gives the
same bytes (tests/test_music.py checks it).
"""
import argparse
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from utils import music  # noqa: E402  (the repo root must be on the path first)

SEED = 2024
BEATS_PER_BAR = 4
ARTICULATION = Fraction(1, 48)  # each melody note stops this many beats early (a 10-tick breath)


def ii_V_I(key, beats=4):
    """| ii7 | V7 | Imaj7 | Imaj7 |, or with beats=2: | ii7 V7 | Imaj7 |. key: pitch class of I."""
    return [(key + 2, "m7", beats), (key + 7, "7", beats), (key, "maj7", 2 * beats)]


def minor_ii_V_i(key):
    """| iim7b5 | V7b9 | im6 | im6 |."""
    return [(key + 2, "m7b5", 4), (key + 7, "7b9", 4), (key, "m6", 8)]


def blues(key):
    """A jazz 12-bar blues: I7 IV7 I7 I7 | IV7 IV7 I7 VI7 | iim7 V7 I7 V7."""
    bars = [(0, "7"), (5, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"),
            (0, "7"), (9, "7"), (2, "m7"), (7, "7"), (0, "7"), (7, "7")]
    return [(key + step, quality, 4) for step, quality in bars]


# file name: (progression as (root pitch class, quality, beats), times played, tempo in bpm)
SONGS = {
    "ii_V_I_C": (ii_V_I(0), 4, 132),
    "ii_V_I_F": (ii_V_I(5), 4, 160),
    "ii_V_I_Bb": (ii_V_I(10), 4, 120),
    "ii_V_I_Eb": (ii_V_I(3), 4, 144),
    "ii_V_I_G_fast": (ii_V_I(7, beats=2), 8, 176),
    "ii_V_I_D_fast": (ii_V_I(2, beats=2), 8, 112),
    "minor_ii_V_i_C": (minor_ii_V_i(0), 4, 126),
    "minor_ii_V_i_G": (minor_ii_V_i(7), 4, 150),
    "blues_F": (blues(5), 2, 138),
    "blues_Bb": (blues(10), 2, 168),
}

# Rhythm cells of one beat: (weight, durations in beats; a negative duration is a rest).
ONE_BEAT_CELLS = (
    (40, ("2/3", "1/3")),         # swung eighths, long-short
    (14, ("1",)),                 # quarter
    (10, ("1/3", "1/3", "1/3")),  # eighth-note triplet
    (5, ("1/4",) * 4),            # sixteenth run
    (12, ("-2/3", "1/3")),        # rest, then a pickup on the swung off-beat
    (7, ("-1",)),                 # quarter rest
)
HALF_NOTE_CHANCE = 0.08  # of a two-beat note, only on beats 1 and 3
# A phrase-ending bar: (beats of cells first, length of the long note); a rest fills the bar.
PHRASE_ENDINGS = ((0, 2), (0, 3), (1, 1), (1, 2), (2, 1))


def voicing(root, quality):
    """Chord pitches: the root between C2 and B2, the other chord tones between D3 and C#4."""
    intervals = music.QUALITIES[quality][0]
    upper = sorted(50 + (root + i - 50) % 12 for i in intervals[1:])
    return (36 + root % 12, *upper)


def bar_rhythm(rng, phrase_end, silent):
    """Durations (Fractions, rests negative) filling one bar."""
    if silent:
        return [Fraction(-BEATS_PER_BAR)]
    cells, beat = [], 0
    lead_in, long_note = music.draw(rng, PHRASE_ENDINGS) if phrase_end else (4, 0)
    while beat < lead_in:
        if beat % 2 == 0 and beat + 2 <= lead_in and rng.random() < HALF_NOTE_CHANCE:
            cells.append(Fraction(2))
            beat += 2
            continue
        cell = music.draw(rng, [c for _, c in ONE_BEAT_CELLS], [w for w, _ in ONE_BEAT_CELLS])
        cells += [Fraction(d) for d in cell]
        beat += 1
    if phrase_end:
        cells.append(Fraction(long_note))
        cells.append(Fraction(-(BEATS_PER_BAR - lead_in - long_note)))
    return cells


def note_kind(duration, on_beat, can_resolve, rng):
    """Chord tone, scale tone or approach tone for the next note."""
    if duration >= 2:
        return "C"
    if duration == 1:
        return "C" if rng.random() < 0.75 else "S"
    kind = music.draw(rng, ("C", "S", "A"), [0.6, 0.3, 0.1] if on_beat else [0.3, 0.45, 0.25])
    return kind if kind != "A" or can_resolve else "C"


def interval(kind, duration, previous, direction, rng):
    """The interval label to the next note: mostly steps and thirds; only chord tones repeat."""
    if previous is None:
        return "*"
    if kind == "A":  # an approach tone is reached by a step or a third
        sizes, p = ("1:2", "3:4"), [0.7, 0.3]
    elif kind == "S" or duration >= 2:
        sizes, p = ("1:2", "3:4", "5:7"), [0.6, 0.28, 0.12]
    else:
        sizes, p = ("0", "1:2", "3:4", "5:7"), [0.06, 0.52, 0.28, 0.14]
    size = music.draw(rng, sizes, p)
    return size if size == "0" else "+-"[direction < 0] + size


def solo(chords, n_bars, rng):
    """A melody (list of music.Note) over `chords` lasting n_bars bars of 4/4."""
    notes, previous, direction, resolve = [], None, 1, False
    phrase_ended = False
    for bar in range(n_bars):
        four_bars_done = (bar + 1) % 4 == 0 or bar == n_bars - 1
        silent = phrase_ended and rng.random() < 0.15
        phrase_ended = not silent and rng.random() < (0.7 if four_bars_done else 0.25)
        cells = bar_rhythm(rng, phrase_ended, silent)
        t = Fraction(bar * BEATS_PER_BAR)
        for j, duration in enumerate(cells):
            if duration < 0:
                t -= duration
                continue
            chord = music.chord_at(chords, float(t)).pitches
            targets = []
            if resolve:  # the note after an approach tone
                targets = [p for p in (previous - 1, previous + 1) if music.note_type(p, chord) == "C"]
            if targets:  # an approach tone moves a semitone to a chord tone
                kind, pitch = "C", music.draw(rng, targets)
            else:
                can_resolve = j + 1 < len(cells) and cells[j + 1] > 0
                on_beat = t.denominator == 1
                kind = "C" if previous is None else note_kind(duration, on_beat, can_resolve, rng)
                if previous is not None and (previous < 62 or previous > 79):
                    direction = 1 if previous < 62 else -1
                elif rng.random() < 0.3:
                    direction = -direction
                pitch = music.choose_pitch(kind, interval(kind, duration, previous, direction, rng),
                                           previous, chord, rng)
            velocity = (100 if t.denominator == 1 else 86) + music.draw(rng, range(-8, 9))
            notes.append(music.Note(float(t), float(duration - ARTICULATION), pitch, velocity))
            previous, resolve = pitch, kind == "A"
            t += duration
    return notes


def make_song(progression, repeats, rng):
    """(melody, chords) for a progression played `repeats` times."""
    chords, t = [], 0
    for _ in range(repeats):
        for root, quality, beats in progression:
            chords.append(music.Chord(float(t), float(beats), voicing(root, quality)))
            t += beats
    return solo(chords, t // BEATS_PER_BAR, rng), chords


def make_corpus(out_dir):
    """Write every song of SONGS to out_dir/<name>.mid; returns the paths, sorted by name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, (name, (progression, repeats, bpm)) in enumerate(SONGS.items()):
        rng = np.random.default_rng([SEED, number])
        melody, chords = make_song(progression, repeats, rng)
        path = out_dir / f"{name}.mid"
        music.write_midi(path, melody, chords, bpm=bpm)
        paths.append(path)
    return sorted(paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    for written in make_corpus(parser.parse_args().out):
        print(f"{written}  {written.stat().st_size} bytes")
