"""Jazz solos as MIDI files, abstract note tokens, and the way back to sound.

    melody, chords, info = load_midi("data/jazz/blues_F.mid")
    measures = tokenize_measures(melody, chords, info["beats_per_measure"])  # list of lists of tokens
    X, Y, vocab = build_dataset("data/jazz", T_x=30, m=60, seed=0)        # X, Y: (n_values, m, T_x)
    notes = tokens_to_midi(tokens, chords, "solo.mid", seed=0)             # tokens -> MIDI
    play(midi_to_wav("solo.mid", "solo.wav"))                              # MIDI -> WAV -> audio

Times are in beats (quarter notes) from the start of the file; pitches are MIDI numbers (60 = C4).

Which track is which
--------------------
A file's notes are split into parts, one per (track, channel); the drum channel (10) is ignored.
Notes whose onsets lie within 1/16 beat of each other form an onset group.
- The chord track is the part with the largest share of onset groups of two or more notes; that share
  must be at least one half. Every group of two or more notes starts a chord, which lasts until the
  next chord starts; single notes in the chord part are ignored.
- The melody track is, among the other parts that are mostly single notes (share below one half),
  the one with the highest mean pitch (so a bass line is not taken for the melody). Where it plays
  several notes at once the highest is kept, and each note is cut where the next one starts.
A file without such parts raises ValueError; a missing file raises FileNotFoundError.

Tokens
------
Each melody note becomes ``"type|duration|interval"``, each rest ``"R|duration"``:
- type: C chord tone (its pitch class sounds in the chord), S scale tone (in the chord's scale, see
  QUALITIES), A approach tone (outside the scale, a semitone from a chord tone), X any other note.
- duration in beats, one of DURATIONS (sixteenths, eighth-note triplets and swung eighths up to a
  whole note): a note takes the nearest value (ties go to the shorter); a silence is rounded to 1/12
  beat and written as the fewest rests that add up to it exactly; silences under 1/8 beat are legato
  and join the note before them. Notes longer than 4 beats are cut to 4 beats (a rest follows).
- interval: the signed distance in semitones to the previous note (across rests and barlines), as
  a range label (INTERVALS): "0", "+1:2" (a step up), "-3:4" (a third down), "+5:7", "+8:12",
  "+13:" (more than an octave) and their mirrors; "*" for the first note of a file.
A token belongs to the measure in which it starts; rests are split at barlines. The course corpus
(CORPUS_DIR, made by data/jazz/make_corpus.py) has 88 distinct tokens; with END, n_values = 89.

Back to sound
-------------
tokens_to_notes lays the tokens end to end over the chords (repeated while the tokens last, cut where they
end) and picks pitches (G3..C6) that satisfy every token's type and interval wherever some melody can;
tokens_to_midi writes them with the chords, midi_to_wav renders any MIDI file with a small additive
synthesizer, play wraps the WAV for a notebook, and piano_roll draws notes over chords.
"""
from bisect import bisect_right
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import mido
import numpy as np

CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "jazz"

END = "<end>"  # target after the last token of a file; sorts before every other token
DURATIONS = tuple(Fraction(d) for d in
                  ("1/4", "1/3", "1/2", "2/3", "3/4", "1", "4/3", "3/2", "2", "3", "4"))
INTERVALS = ("0", "+1:2", "+3:4", "+5:7", "+8:12", "+13:")  # and the same with "-"; "*" = no previous
INTERVAL_LABELS = frozenset(("*",) + INTERVALS + tuple("-" + i[1:] for i in INTERVALS[1:]))
LARGEST_INTERVAL = 24   # "+13:" means 13 to 24 semitones when a pitch is chosen for it
LEGATO_GAP = 1 / 8      # silences shorter than this (in beats) belong to the note before
ONSET_TOLERANCE = 1 / 16  # onsets closer than this (in beats) are simultaneous
MELODY_RANGE = (55, 84)   # G3..C6: the pitches tokens_to_notes chooses from
MELODY_VELOCITY, CHORD_VELOCITY = 100, 48

SCALES = {
    "ionian": (0, 2, 4, 5, 7, 9, 11), "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10), "melodic minor": (0, 2, 3, 5, 7, 9, 11),
    "locrian": (0, 1, 3, 5, 6, 8, 10), "half-whole": (0, 1, 3, 4, 6, 7, 9, 10),
    "whole-half": (0, 2, 3, 5, 6, 8, 9, 11), "whole tone": (0, 2, 4, 6, 8, 10),
}
# quality: (chord intervals above the root, scale). Order breaks ties when a chord is named.
QUALITIES = {
    "maj7": ((0, 4, 7, 11), "ionian"), "7": ((0, 4, 7, 10), "mixolydian"),
    "m7": ((0, 3, 7, 10), "dorian"), "m7b5": ((0, 3, 6, 10), "locrian"),
    "6": ((0, 4, 7, 9), "ionian"), "m6": ((0, 3, 7, 9), "melodic minor"),
    "7b9": ((0, 1, 4, 7, 10), "half-whole"), "mmaj7": ((0, 3, 7, 11), "melodic minor"),
    "dim7": ((0, 3, 6, 9), "whole-half"), "maj": ((0, 4, 7), "ionian"), "m": ((0, 3, 7), "dorian"),
    "dim": ((0, 3, 6), "whole-half"), "aug": ((0, 4, 8), "whole tone"),
    "sus4": ((0, 5, 7), "mixolydian"),
}
NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


class Note(NamedTuple):
    """One melody note: start and duration in beats, MIDI pitch, velocity 1-127."""
    start: float
    duration: float
    pitch: int
    velocity: int = MELODY_VELOCITY


class Chord(NamedTuple):
    """One chord: start and duration in beats, its MIDI pitches in ascending order."""
    start: float
    duration: float
    pitches: tuple


class ChordInfo(NamedTuple):
    """A chord's name and pitch classes: root 0-11, quality (a QUALITIES key), tones, scale."""
    root: int
    quality: str
    tones: frozenset   # pitch classes that sound
    scale: frozenset   # the quality's scale on the root, plus the tones


# ---------------------------------------------------------------- harmony

@lru_cache(maxsize=None)
def _chord_info(pitches):
    tones = frozenset(p % 12 for p in pitches)
    bass = min(pitches) % 12
    best = None
    for order, (quality, (intervals, _)) in enumerate(QUALITIES.items()):
        for root in range(12):
            template = {(root + i) % 12 for i in intervals}
            key = (len(template ^ tones), root != bass, root not in tones, order, root)
            if best is None or key < best[0]:
                best = (key, root, quality)
    _, root, quality = best
    scale = frozenset((root + i) % 12 for i in SCALES[QUALITIES[quality][1]]) | tones
    return ChordInfo(root, quality, tones, scale)


def chord_info(pitches):
    """Name a chord: the root and QUALITIES entry whose tones differ least from the sounding ones.

    pitches: MIDI pitches (any order, at least one). Ties prefer the bass note as root, then a root
    that sounds, then the QUALITIES order: (60, 64, 67, 69) is C6, (57, 60, 64, 67) is Am7.
    """
    if len(pitches) == 0:
        raise ValueError("chord_info needs at least one pitch")
    return _chord_info(tuple(sorted(int(p) for p in pitches)))


def chord_symbol(pitches):
    """A chord's symbol such as "Dm7", "G7", "Cmaj7" or "F" (major triad)."""
    info = chord_info(pitches)
    return NOTE_NAMES[info.root] + ("" if info.quality == "maj" else info.quality)


def note_type(pitch, chord_pitches):
    """The type of `pitch` over a chord: "C" chord tone, "S" scale tone, "A" approach, "X" other."""
    info = chord_info(chord_pitches)
    pc = pitch % 12
    if pc in info.tones:
        return "C"
    if pc in info.scale:
        return "S"
    if (pc + 1) % 12 in info.tones or (pc - 1) % 12 in info.tones:
        return "A"
    return "X"


def chord_at(chords, t):
    """The chord sounding at beat t: the last one starting at or before t (the first one before it)."""
    if not chords:
        raise ValueError("no chords to look up")
    starts = [c.start for c in chords]
    return chords[max(0, bisect_right(starts, t + 1e-6) - 1)]


# ---------------------------------------------------------------- reading MIDI

def _onset_groups(notes, tolerance):
    """Split (start, end, pitch, velocity) tuples, sorted by start, into groups of near-equal onsets."""
    groups = []
    for note in notes:
        if groups and note[0] - groups[-1][0][0] <= tolerance:
            groups[-1].append(note)
        else:
            groups.append([note])
    return groups


def _read_parts(mid):
    """Notes of each (track, channel) as sorted (start_tick, end_tick, pitch, velocity) tuples."""
    parts = {}
    for track_index, track in enumerate(mid.tracks):
        tick, sounding = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type not in ("note_on", "note_off") or msg.channel == 9:
                continue
            key = (track_index, msg.channel)
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((key, msg.note), []).append((tick, msg.velocity))
            elif sounding.get((key, msg.note)):
                start, velocity = sounding[(key, msg.note)].pop(0)
                parts.setdefault(key, []).append((start, tick, msg.note, velocity))
        for (key, pitch), started in sounding.items():  # notes never switched off end with the track
            parts.setdefault(key, []).extend((s, tick, pitch, v) for s, v in started)
    return {key: sorted(notes) for key, notes in sorted(parts.items())}


def _first_meta(mid, kind):
    """The earliest meta message of type `kind` in any track, or None."""
    found = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == kind:
                found.append((tick, msg))
                break
    return min(found, key=lambda f: f[0])[1] if found else None


def _open_midi(path):
    """mido.MidiFile(path), with FileNotFoundError for a missing file, ValueError for a broken one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MIDI file not found: {path}")
    try:
        return mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as err:
        raise ValueError(f"{path} is not a readable MIDI file ({err})") from err


def load_midi(path):
    """Read the melody and the chords of a MIDI file (rule in the module docstring).

    path: a MIDI file of type 0 or 1 with a melody part and a chord part.
    Returns (melody, chords, info):
      melody: list of Note, sorted by start, one note at a time; times in beats.
      chords: list of Chord, sorted by start; each lasts until the next one starts.
      info:   dict with ticks_per_beat, tempo (microseconds per beat, the first one), bpm,
              time_signature (numerator, denominator), beats_per_measure, and melody_part and
              chord_part as (track index, channel).
    Raises FileNotFoundError for a missing file, ValueError for an unreadable file or one
    without a melody part and a chord part.
    """
    path = Path(path)
    mid = _open_midi(path)
    if mid.type == 2:
        raise ValueError(f"{path} is a type 2 MIDI file (independent songs); "
                         "only types 0 and 1 are read")
    tpb = mid.ticks_per_beat
    parts = _read_parts(mid)
    groups = {key: _onset_groups(notes, ONSET_TOLERANCE * tpb) for key, notes in parts.items()}
    chordal = {key: sum(len(g) > 1 for g in gs) / len(gs) for key, gs in groups.items()}
    described = ", ".join(f"track {t} channel {c + 1}: {len(parts[(t, c)])} notes, "
                          f"{chordal[(t, c)]:.0%} in chords" for t, c in parts) or "no notes"
    chord_keys = [k for k in parts if chordal[k] >= 0.5]
    if not chord_keys:
        raise ValueError(f"{path} has no chord track: no track/channel plays two or more notes at once "
                         f"in at least half of its onsets ({described})")
    chord_key = max(chord_keys, key=lambda k: (chordal[k], len(parts[k])))
    melody_keys = [k for k in parts if chordal[k] < 0.5]
    if not melody_keys:
        raise ValueError(f"{path} has no melody track: no track/channel other than the chords "
                         f"plays mostly single notes ({described})")
    melody_key = max(melody_keys, key=lambda k: np.mean([n[2] for n in parts[k]]))

    tops = [max(g, key=lambda n: n[2]) for g in groups[melody_key]]  # highest note of each onset
    melody = []
    for i, (start, end, pitch, velocity) in enumerate(tops):
        if i + 1 < len(tops):
            end = min(end, tops[i + 1][0])
        melody.append(Note(start / tpb, (end - start) / tpb, pitch, velocity))

    chord_groups = [g for g in groups[chord_key] if len(g) > 1]
    chords = []
    for i, group in enumerate(chord_groups):
        start = group[0][0]
        end = chord_groups[i + 1][0][0] if i + 1 < len(chord_groups) else max(n[1] for n in group)
        chords.append(Chord(start / tpb, (end - start) / tpb, tuple(sorted({n[2] for n in group}))))

    tempo = _first_meta(mid, "set_tempo")
    tempo = tempo.tempo if tempo else 500000
    signature = _first_meta(mid, "time_signature")
    signature = (signature.numerator, signature.denominator) if signature else (4, 4)
    info = {"ticks_per_beat": tpb, "tempo": tempo, "bpm": round(mido.tempo2bpm(tempo), 3),
            "time_signature": signature, "beats_per_measure": signature[0] * 4 / signature[1],
            "melody_part": melody_key, "chord_part": chord_key}
    return melody, chords, info


# ---------------------------------------------------------------- tokens

def _interval_label(step):
    """The INTERVALS label (with its sign) of a step of `step` semitones."""
    if step == 0:
        return "0"
    sign, size = ("+" if step > 0 else "-"), abs(step)
    for label in INTERVALS[1:-1]:
        low, high = (int(x) for x in label[1:].split(":"))
        if low <= size <= high:
            return sign + label[1:]
    return sign + INTERVALS[-1][1:]


def _interval_range(label):
    """(lowest, highest) signed step in semitones for an interval label."""
    if label == "0":
        return 0, 0
    low, high = label[1:].split(":")
    low, high = int(low), int(high or LARGEST_INTERVAL)
    return (low, high) if label[0] == "+" else (-high, -low)


def _nearest_duration(beats):
    """The DURATIONS value nearest to `beats` (the shorter on a tie)."""
    return min(DURATIONS, key=lambda d: (abs(float(d) - beats), d))


@lru_cache(maxsize=None)
def _rest_split(twelfths):
    """Fewest DURATIONS adding up to `twelfths`/12 beats, longest first (None if impossible)."""
    if twelfths == 0:
        return ()
    best = None
    for d in reversed(DURATIONS):
        if d * 12 <= twelfths:
            rest = _rest_split(twelfths - int(d * 12))
            if rest is not None and (best is None or len(rest) + 1 < len(best)):
                best = (d,) + rest
    return best


def _rests(start, end, beats_per_measure):
    """(measure, rest token) pairs for the silence from beat `start` to beat `end`."""
    tokens = []
    while end - start >= LEGATO_GAP:
        measure = int(np.floor(start / beats_per_measure + 1e-9))
        piece_end = min(end, (measure + 1) * beats_per_measure)
        if piece_end - start >= LEGATO_GAP:  # a sliver before a barline is dropped
            twelfths = round((piece_end - start) * 12)
            while _rest_split(twelfths) is None:  # 1/6 and 5/12 beat: round to a length that splits
                twelfths += 1 if twelfths < 3 else -1
            tokens += [(measure, f"R|{d}") for d in _rest_split(twelfths)]
        start = piece_end
    return tokens


def tokenize_measures(melody, chords, beats_per_measure=4):
    """Turn a melody over chords into tokens, one list per measure (rules in the module docstring).

    melody: list of Note (as load_midi returns), chords: list of Chord.
    Returns a list with one list of token strings per measure, up to the last note or chord.
    """
    melody = sorted(melody)
    bpm = float(beats_per_measure)
    ends = [n.start + n.duration for n in melody] + [c.start + c.duration for c in chords]
    n_measures = max(1, int(np.ceil(max(ends, default=0) / bpm - 1e-6)))
    placed = []  # (measure, token)
    cursor, previous = 0.0, None  # cursor: where the tokens so far end, in beats
    for i, note in enumerate(melody):
        placed += _rests(cursor, note.start, bpm)
        length = note.duration
        if i + 1 < len(melody) and melody[i + 1].start - (note.start + length) < LEGATO_GAP:
            length = melody[i + 1].start - note.start
        duration = _nearest_duration(min(length, float(DURATIONS[-1])))
        kind = note_type(note.pitch, chord_at(chords, note.start).pitches)
        interval = "*" if previous is None else _interval_label(note.pitch - previous)
        measure = int(np.floor(note.start / bpm + 1e-9))
        placed.append((measure, f"{kind}|{duration}|{interval}"))
        cursor, previous = note.start + float(duration), note.pitch
    placed += _rests(cursor, n_measures * bpm, bpm)
    measures = [[] for _ in range(max([n_measures] + [m + 1 for m, _ in placed]))]
    for measure, token in placed:
        measures[measure].append(token)
    return measures


def _parse_token(token):
    """(type, duration as Fraction, interval label or None) of a token; ValueError if malformed."""
    fields = token.split("|") if isinstance(token, str) else []
    ok = (len(fields) == 2 and fields[0] == "R") or (
        len(fields) == 3 and fields[0] in ("C", "S", "A", "X") and fields[2] in INTERVAL_LABELS)
    try:
        duration = Fraction(fields[1]) if ok else None
    except ValueError:
        duration = None
    if duration not in DURATIONS:
        raise ValueError(f"not a music token: {token!r} (expected like 'C|1/3|+1:2' or 'R|1')")
    return fields[0], duration, (fields[2] if len(fields) == 3 else None)


# ---------------------------------------------------------------- dataset

def _midi_paths(paths_or_dir):
    """The MIDI files meant by a folder, a path or a list of paths."""
    if isinstance(paths_or_dir, (str, Path)):
        path = Path(paths_or_dir)
        if path.is_dir():
            paths = sorted(p for p in path.iterdir() if p.suffix.lower() in (".mid", ".midi"))
            if not paths:
                raise ValueError(f"no .mid files in {path}")
            return paths
        return [path]
    return [Path(p) for p in paths_or_dir]


def file_tokens(path):
    """All tokens of one MIDI file in order (the measures of tokenize_measures, concatenated)."""
    melody, chords, info = load_midi(path)
    measures = tokenize_measures(melody, chords, info["beats_per_measure"])
    return [token for measure in measures for token in measure]


def build_dataset(paths_or_dir, T_x=30, m=60, seed=0):
    """One-hot training sequences of tokens for a next-token model.

    paths_or_dir: a folder (its .mid files, sorted by name), one MIDI path, or a list of paths.
    T_x:  steps per sequence.
    m:    number of sequences, windows of T_x consecutive tokens of one file, drawn with
          np.random.default_rng(seed) without replacement (with replacement if there are fewer than m).
    seed: int or numpy Generator.
    Returns (X, Y, vocab):
      X:     (n_values, m, T_x) float64 one-hot; X[:, i, t] encodes token t of window i.
      Y:     (n_values, m, T_x) float64 one-hot, Y[:, :, t] = X[:, :, t + 1]; the last step holds the
             token after the window, or END when the window ends its file.
      vocab: sorted list of the n_values distinct tokens of the files, plus END.
    On the course corpus (CORPUS_DIR) n_values is 89.
    """
    streams = [file_tokens(p) for p in _midi_paths(paths_or_dir)]
    vocab = sorted(set().union(*streams) | {END})
    index = {token: i for i, token in enumerate(vocab)}
    windows = [(f, s) for f, stream in enumerate(streams) for s in range(len(stream) - T_x + 1)]
    if not windows:
        raise ValueError(f"no file has {T_x} tokens (longest: {max(map(len, streams))}); lower T_x")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(windows), size=m, replace=len(windows) < m)
    X = np.zeros((len(vocab), m, T_x))
    Y = np.zeros((len(vocab), m, T_x))
    steps = np.arange(T_x)
    for i, w in enumerate(chosen):
        f, s = windows[w]
        stream = streams[f] + [END]
        X[[index[t] for t in stream[s:s + T_x]], i, steps] = 1.0
        Y[[index[t] for t in stream[s + 1:s + T_x + 1]], i, steps] = 1.0
    return X, Y, vocab


# ---------------------------------------------------------------- tokens back to notes

def draw(rng, options, weights=None):
    """One element of the sequence `options`, uniformly or in proportion to `weights`.

    Uses one rng.random() per call, the plainest Generator stream, so that seeded output (the
    committed corpus above all) does not move when NumPy changes how choice() or integers() draw.
    """
    u = rng.random()
    if weights is None:
        return options[min(int(u * len(options)), len(options) - 1)]
    cumulative = np.cumsum(weights, dtype=float)
    index = int(np.searchsorted(cumulative, u * cumulative[-1], side="right"))
    return options[min(index, len(options) - 1)]


MELODY_PITCHES = np.arange(MELODY_RANGE[0], MELODY_RANGE[1] + 1)
WRONG_TYPE, WRONG_WAY, OFF_CENTRE = 1000.0, 100.0, 0.5  # costs; an interval miss costs its semitones


def _type_cost(kind, chord_pitches):
    """(P,) cost of each of MELODY_PITCHES for note type `kind`: 0 if it has it (all 0 if none has)."""
    wrong = np.array([note_type(p, chord_pitches) != kind for p in MELODY_PITCHES])
    return WRONG_TYPE * wrong if not wrong.all() else np.zeros(wrong.shape)


def _step_cost(interval, steps):
    """Cost of moving by `steps` semitones (array, any shape) for an interval label; "*" costs nothing.

    Semitones outside the label's range, plus WRONG_WAY for a step that does not move the way it says.
    """
    if interval == "*":
        return np.zeros(np.shape(steps))
    lo, hi = _interval_range(interval)
    miss = np.maximum(lo - steps, 0) + np.maximum(steps - hi, 0)
    return miss + (WRONG_WAY * (np.sign(steps) != np.sign(lo)) if lo != 0 else 0)


def _start_cost():
    """(P,) small cost for a first note outside E4..E5, the middle of the melody range."""
    return OFF_CENTRE * ((MELODY_PITCHES < 64) | (MELODY_PITCHES > 76))


def choose_pitch(kind, interval, previous, chord_pitches, rng):
    """One pitch for a note token, chosen greedily: a uniform draw among the cheapest pitches.

    kind: "C", "S", "A" or "X"; interval: a label of INTERVAL_LABELS; previous: the last pitch or None;
    chord_pitches: the chord sounding. Pitches come from MELODY_PITCHES (G3..C6). Costs: a pitch of
    another type WRONG_TYPE (only if the chord has notes of that type: X has none over most seventh
    chords), each semitone outside the interval 1, moving the wrong way WRONG_WAY; a first note
    (previous None) OFF_CENTRE outside E4..E5. Returns an int.
    """
    cost = _type_cost(kind, chord_pitches)
    if previous is None:
        cost = cost + _start_cost()
    else:
        cost = cost + _step_cost(interval, MELODY_PITCHES - previous)
    return int(draw(rng, MELODY_PITCHES[cost == cost.min()]))


def _repeat_chords(chords, until):
    """The chord progression repeated (as often as needed) to cover beats 0 .. until."""
    span = chords[-1].start + chords[-1].duration - chords[0].start
    out, shift = [], 0.0
    while not out or out[-1].start + out[-1].duration < until - 1e-9:
        out += [c._replace(start=c.start + shift) for c in chords]
        shift += span
    return out


def _cut_chords(chords, until):
    """The chords sounding before beat `until`, the last one shortened to end there (none after it)."""
    return [c._replace(duration=min(c.duration, until - c.start)) for c in chords if c.start < until - 1e-9]


def tokens_to_notes(tokens, chords, seed=0):
    """Realise tokens as notes over chords: a melody that breaks as few token rules as possible.

    tokens: token strings; realisation stops at the first END.
    chords: list of Chord (e.g. from load_midi); the progression repeats when the tokens last longer.
    seed:   int or numpy Generator.
    The pitches minimise the total cost of choose_pitch over the whole melody (dynamic programming over
    MELODY_PITCHES, then a seeded draw among the cheapest paths, from the last note back). So whenever
    some melody in that range fits every token, the melody returned fits every token: its tokens, read
    back with tokenize_measures, are the tokens given.
    Returns (melody, chords): list of Note starting at beat 0, and the chords under them, cut where the tokens
    end (the sum of their durations, rests included): no chord sounds after the solo. No tokens, no chords.
    """
    rng = np.random.default_rng(seed)
    if not chords:
        raise ValueError("tokens_to_notes needs at least one chord")
    parsed = []
    for token in tokens:
        if token == END:
            break
        parsed.append(_parse_token(token))
    total = float(sum((d for _, d, _ in parsed), Fraction(0)))
    chords = _repeat_chords(sorted(chords), total)
    starts, intervals, costs = [], [], []  # one entry per note; costs: (P,) each
    cursor = Fraction(0)
    for kind, duration, interval in parsed:
        if kind != "R":
            starts.append((cursor, duration))
            intervals.append(interval)
            costs.append(_type_cost(kind, chord_at(chords, float(cursor)).pitches))
        cursor += duration
    if not starts:
        return [], _cut_chords(chords, total)
    steps = MELODY_PITCHES[None, :] - MELODY_PITCHES[:, None]  # (P, P): from row pitch to column pitch
    best = [costs[0] + _start_cost()]  # best[t][j]: cheapest melody up to note t ending on pitch j
    for t in range(1, len(costs)):
        best.append((best[-1][:, None] + _step_cost(intervals[t], steps)).min(axis=0) + costs[t])
    chosen = [draw(rng, np.flatnonzero(best[-1] == best[-1].min()))]
    for t in range(len(costs) - 1, 0, -1):  # walk back through predecessors that keep the minimum
        via = best[t - 1] + _step_cost(intervals[t], steps[:, chosen[-1]])
        chosen.append(draw(rng, np.flatnonzero(via == via.min())))
    pitches = MELODY_PITCHES[chosen[::-1]]
    melody = [Note(float(start), float(length), int(p)) for (start, length), p in zip(starts, pitches)]
    return melody, _cut_chords(chords, total)


def write_midi(path, melody, chords, bpm=120, ticks_per_beat=480, time_signature=(4, 4)):
    """Write a type 1 MIDI file: track 0 the melody (channel 1, tempo and meter), track 1 the chords.

    melody: list of Note; chords: list of Chord (held for their duration, velocity CHORD_VELOCITY).
    Times are rounded to ticks; the same arguments always give the same bytes.
    """
    def track(name, channel, program, notes, meta=()):
        events = []
        for start, duration, pitch, velocity in notes:
            on, off = round(start * ticks_per_beat), round((start + duration) * ticks_per_beat)
            events.append((on, 1, pitch, mido.Message("note_on", channel=channel, note=pitch,
                                                      velocity=velocity)))
            events.append((off, 0, pitch, mido.Message("note_off", channel=channel, note=pitch)))
        messages = [mido.MetaMessage("track_name", name=name), *meta,
                    mido.Message("program_change", channel=channel, program=program)]
        tick = 0
        for when, _, _, msg in sorted(events, key=lambda e: e[:3]):  # at one tick, offs before ons
            messages.append(msg.copy(time=when - tick))
            tick = when
        messages.append(mido.MetaMessage("end_of_track", time=0))
        return mido.MidiTrack(messages)

    numerator, denominator = time_signature
    meta = (mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
            mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator))
    chord_notes = [(c.start, c.duration, p, CHORD_VELOCITY) for c in chords for p in c.pitches]
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    mid.tracks.append(track("melody", 0, 65, melody, meta))  # 65: alto sax
    mid.tracks.append(track("chords", 1, 4, chord_notes))     # 4: electric piano
    mid.save(path)


def tokens_to_midi(tokens, chords, path, seed=0, bpm=120):
    """Realise tokens over chords (tokens_to_notes) and write melody and chords to a MIDI file.

    Returns the melody, a list of Note.
    """
    melody, chords = tokens_to_notes(tokens, chords, seed)
    write_midi(path, melody, chords, bpm=bpm)
    return melody


# ---------------------------------------------------------------- sound and pictures

def _notes_in_seconds(mid):
    """(start_s, duration_s, pitch, velocity) of every note of a MidiFile, tempo changes included."""
    notes, sounding, now = [], {}, 0.0
    for msg in mid:  # merged tracks, msg.time in seconds
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault((msg.channel, msg.note), []).append((now, msg.velocity))
        elif msg.type in ("note_on", "note_off") and sounding.get((msg.channel, msg.note)):
            start, velocity = sounding[(msg.channel, msg.note)].pop(0)
            notes.append((start, now - start, msg.note, velocity))
    notes += [(s, now - s, pitch, v) for (_, pitch), held in sounding.items() for s, v in held]
    return notes


def synthesize(notes, duration, sample_rate=22050):
    """Additive synthesis: four sine partials per note under an attack-decay-sustain-release envelope.

    notes: iterable of (start_s, duration_s, pitch, velocity); loudness grows as (velocity/127)**2.
    duration: length of the result in seconds. The envelope ends with each note (10 ms attack,
    100 ms decay to 0.7, 80 ms release), squeezed for short notes.
    Returns a float64 array of shape (round(duration * sample_rate),), peak 0.9 (zeros if silent).
    """
    out = np.zeros(int(round(duration * sample_rate)))
    for start, length, pitch, velocity in notes:
        first = int(round(start * sample_rate))
        n = min(int(round(length * sample_rate)), out.size - first)
        if n < 8 or first < 0:
            continue
        t = np.arange(n) / sample_rate
        freq = 440.0 * 2.0 ** ((pitch - 69) / 12)
        wave = sum(a * np.sin(2 * np.pi * k * freq * t)
                   for k, a in enumerate((1.0, 0.5, 0.25, 0.12), start=1) if k * freq < sample_rate / 2)
        attack, decay, release = (min(s * sample_rate, n / 4) for s in (0.01, 0.1, 0.08))
        envelope = np.interp(np.arange(n), [0, attack, attack + decay, n - release, n - 1],
                             [0.0, 1.0, 0.7, 0.7, 0.0])
        out[first:first + n] += (velocity / 127) ** 2 * envelope * wave
    peak = np.max(np.abs(out), initial=0.0)
    return out * (0.9 / peak) if peak > 0 else out


def midi_to_wav(midi_path, wav_path, sample_rate=22050):
    """Render every note of a MIDI file (synthesize) to a mono 16-bit WAV as long as the MIDI file.

    midi_path: any MIDI file; wav_path: where to write. The WAV has round(length * sample_rate)
    samples, length being the MIDI file's duration in seconds (mido's MidiFile.length).
    Returns wav_path as a Path.
    """
    from scipy.io import wavfile
    mid = _open_midi(midi_path)
    samples = synthesize(_notes_in_seconds(mid), mid.length, sample_rate)
    wavfile.write(wav_path, sample_rate, np.round(samples * 32767).astype(np.int16))
    return Path(wav_path)


def play(wav_path):
    """An audio player for a WAV file (the last line of a notebook cell shows it), embedded as MP3 to keep
    the saved notebook small (utils/audio.py)."""
    from . import audio
    return audio.player_from_file(wav_path)


def piano_roll(notes, chords=(), ax=None, beats_per_measure=4, title=None):
    """Draw melody notes (blue) over chords (grey, named above) against beats; barlines in light grey.

    notes: list of Note; chords: list of Chord; ax: matplotlib Axes (a new figure when None).
    Returns the Axes (its figure is ax.figure); nothing is shown.
    """
    from matplotlib.patches import Rectangle
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(12, 4))
    pitches = [n.pitch for n in notes] + [p for c in chords for p in c.pitches] or [60]
    top = max(pitches) + 2
    for c in chords:
        for p in c.pitches:
            ax.add_patch(Rectangle((c.start, p - 0.4), max(c.duration - 0.1, 0.05), 0.8, color="0.8"))
        ax.text(c.start, top, chord_symbol(c.pitches), fontsize=8, va="bottom")
    for n in notes:
        ax.add_patch(Rectangle((n.start, n.pitch - 0.4), n.duration, 0.8, color="tab:blue"))
    end = max([n.start + n.duration for n in notes] + [c.start + c.duration for c in chords] + [1])
    for bar in np.arange(0, end + 1e-9, beats_per_measure):
        ax.axvline(bar, color="0.85", linewidth=0.5, zorder=0)
    ax.set_xlim(0, end)
    ax.set_ylim(min(pitches) - 2, top + 4)
    octaves = range((min(pitches) // 12) * 12, top + 1, 12)
    ax.set_yticks(list(octaves), [f"C{p // 12 - 1}" for p in octaves])
    ax.set_xlabel("beat")
    ax.set_ylabel("pitch")
    if title:
        ax.set_title(title)
    return ax
