"""Hidden checks of assignment 5 (trigger_word).

Every case draws fresh inputs from the Generator it is given; the notebook's visible cases are repeated (not
hidden) so that the verdict agrees with what the student saw. Functions that draw random numbers get an
``Rng(seed)``: both sides build the same Generator, so the same draws give the same positions.

- is_overlapping: random previous segments and queries that touch, contain, surround or miss them.
- insert_audio_clip builds on is_overlapping. It passes when it matches the reference; or, when the student's
  is_overlapping is wrong on the same inputs (and answers True or False, even always the same), when it is
  consistent with it: the positions the protocol draws (one rng.integers per try, known from the
  seed) are asked of the student's is_overlapping, and the first one it accepts must be where the clip went
  (or, when it accepts none, the clip must be left out).
- insert_ones: random lengths T_y, labels that already hold ones, ends near the start and the end of the clip.
- spectrogram: against the reference on fresh loud signals (the powers far from 0), even and odd nfft.
- create_training_example builds on insert_audio_clip, insert_ones and spectrogram (and, through the first, on
  is_overlapping). It passes when it matches the reference; or, when one of those blocks is wrong on fixed
  probes, when it is consistent with the student's own blocks: the plan replays the protocol with the
  student's functions (the same seed, the same previous_segments list) and the student's x, y and segments
  must be what the replay gives.
  A dependent function whose building block raises (or is missing because its cell crashed) and that raises
  the same error is charged to the block, except for the unanswered stub's NotImplementedError.
- model_forward: small random detectors in inference (perturbed running statistics) and in training (dropout
  masks from an Rng, running statistics updated in place).
- chime_positions: random outputs with bumps above and below the threshold, random gaps.
- detection_metrics: random words and detections (true, false, repeated), batches and single clips.
"""
import math

import numpy as np

from utils import testing
from utils import trigger_parts as parts

from ..checks import Call, Ref, consistent_or_matching, take
from ..plan import Rng
from ..spec import Case, NotJudged, mismatch

RATE, CLIP_MS, N_SAMPLES, T_Y = parts.RATE, parts.CLIP_MS, parts.N_SAMPLES, parts.T_Y
MAX_TRIES = 100


def _seed(rng):
    return int(rng.integers(2**31))


def _as_bool(value):
    """A student's answer as a Python bool, or None when it is not one (a numpy bool of shape () counts)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind == "b":
        return bool(value[()])
    return None


def _segment(value):
    """A student's segment as a tuple of ints, None for None, or "bad"."""
    if value is None:
        return None
    try:
        a, b = value
        a, b = np.asarray(a), np.asarray(b)
        if a.shape == () and b.shape == () and a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return int(a), int(b)
    except (TypeError, ValueError):
        pass
    return "bad"


def _error_text(value):
    """The exception of a call that raised ("f raised T: msg" -> "T: msg"), or None."""
    if isinstance(value, dict) and set(value) == {"error"} and isinstance(value["error"], str):
        return value["error"].split(" raised ", 1)[1] if " raised " in value["error"] else value["error"]
    return None


def _charged_to_block(block_values, own_value, block_names):
    """True when a building block raised (not the unanswered stub's NotImplementedError) and the dependent
    function raised the same error, or a NameError naming a missing block: the mistake is the block's."""
    own = _error_text(own_value)
    if own is None:
        return False
    names = [block_names] if isinstance(block_names, str) else list(block_names)
    for value in block_values:
        block = _error_text(value)
        if block is None or "NotImplementedError" in block:
            continue
        missing = "is not defined" in block and "NameError" in own and any(n in own for n in names)
        if missing or own == block:
            return True
    return False


# ------------------------------------------------------------------ is_overlapping

def _bool_compare(student, reference):
    failures = []
    for label, want in reference.items():
        got = student.get(label, {"error": "no result"})
        if isinstance(got, dict) and set(got) == {"error"}:
            failures.append(f"{label}: {got['error']}")
        elif _as_bool(got) is None:
            failures.append(f"{label} should be True or False, got {type(got).__name__}")
        elif _as_bool(got) != want:
            failures.append(f"{label} is wrong")
    return failures


def _random_segments(rng, n):
    """n disjoint (start, end) segments in 0..9999, sorted."""
    cuts = np.sort(rng.choice(np.arange(1, CLIP_MS - 1), size=2 * n, replace=False))
    return [(int(cuts[2 * i]), int(cuts[2 * i + 1])) for i in range(n)]


def is_overlapping_values(rng):
    visible = [((950, 1430), [(2000, 2550), (260, 949)]), ((2305, 2950), [(824, 1532), (1900, 2305), (3424, 3656)]),
               ((100, 200), [(200, 300)]), ((100, 199), [(200, 300)]), ((500, 600), [(400, 700)]),
               ((400, 700), [(500, 600)]), ((0, 9999), [])]
    cases = [Case("the segments shown in the notebook",
                  [Call("is_overlapping", s, p, out={f"is_overlapping({s}, {p})": ()}) for s, p in visible],
                  hidden=False, compare=_bool_compare)]
    for k in range(3):
        previous = [tuple(s) for s in rng.permutation(_random_segments(rng, int(rng.integers(1, 5))))]
        queries = []
        for s, e in previous:
            queries += [(e, e + int(rng.integers(1, 50))), (s - int(rng.integers(1, 50)), s),        # touching ends
                        (s + 1, max(s + 1, e - 1)), (s - 5, e + 5),                                   # inside, around
                        (e + 1, e + int(rng.integers(1, 30))), (max(0, s - int(rng.integers(2, 30))), s - 1)]
        start = int(rng.integers(0, CLIP_MS - 500))
        queries.append((start, start + int(rng.integers(0, 500))))
        plan = [Call("is_overlapping", q, list(previous), out={f"query {i + 1}": ()}) for i, q in enumerate(queries)]
        plan.append(Call("is_overlapping", queries[0], [], out={"query with no previous segment": ()}))
        cases.append(Case(f"random segments #{k + 1}", plan, compare=_bool_compare))
    return cases


# ------------------------------------------------------------------ insert_audio_clip

def _candidates(n_clip, seed):
    """The segments the protocol tries, in order: one rng.integers(0, CLIP_MS - segment_ms + 1) per try."""
    segment_ms = int(math.ceil(n_clip * 1000 / RATE))
    if segment_ms > CLIP_MS:
        return []
    g = np.random.default_rng(seed)
    starts = [int(g.integers(0, CLIP_MS - segment_ms + 1)) for _ in range(MAX_TRIES)]
    return [(s, s + segment_ms - 1) for s in starts]


def _placed(background, clip, segment):
    out = np.array(background, dtype=np.float64)
    first = segment[0] * RATE // 1000
    out[first:first + len(clip)] += clip
    return out


INSERT_OUT = {"new_background": (0,), "segment_time": (1,)}
PROBES = (((100, 200), [(150, 300)]), ((100, 200), [(300, 400)]))     # True, then False


def _insert_case(name, background, clip, previous, seed, hidden=True):
    cands = _candidates(len(clip), seed)
    plan = [Call("id", list(previous), save="prev"),
            Call("insert_audio_clip", background, clip, Ref("prev"), Rng(seed), out=INSERT_OUT),
            Call("id", Ref("prev"), out={"previous_segments after the call": ()})]
    plan += [Call("is_overlapping", s, p, out={f"block probe {i}": ()}) for i, (s, p) in enumerate(PROBES)]
    plan += [Call("is_overlapping", c, list(previous), out={f"block try {i}": ()}) for i, c in enumerate(cands)]
    main = list(INSERT_OUT) + ["previous_segments after the call"]

    def compare(student, reference):
        direct = [m for m in (mismatch(k, student.get(k, {"error": "no result"}), reference[k], reveal=not hidden)
                              for k in main) if m]
        if not direct:
            return []
        blocks = [k for k in reference if k.startswith("block")]
        if not any(_as_bool(student.get(k)) != reference[k] for k in blocks):
            return direct                                           # your is_overlapping is right here
        if _charged_to_block([student.get(k) for k in blocks], student.get("segment_time"), "is_overlapping"):
            return NotJudged("your is_overlapping is wrong here; it is charged to its own test cell")
        probes = [_as_bool(student.get(f"block probe {i}")) for i in range(len(PROBES))]
        tries = [_as_bool(student.get(f"block try {i}")) for i in range(len(cands))]
        if None in probes or None in tries:
            return direct + ["(your is_overlapping gives no True/False answers here, so it cannot excuse this one)"]
        k = next((i for i, t in enumerate(tries) if not t), None)
        want_segment = None if k is None else cands[k]
        want_background = np.array(background, np.float64) if k is None else _placed(background, clip, cands[k])
        want_previous = list(previous) + ([] if k is None else [want_segment])
        got_previous = student.get("previous_segments after the call")
        consistent = (_segment(student.get("segment_time")) == want_segment
                      and testing.close(student.get("new_background"), want_background)
                      and isinstance(got_previous, (list, tuple)) and len(got_previous) == len(want_previous)
                      and all(_segment(g) == tuple(w) for g, w in zip(got_previous, want_previous)))
        return [] if consistent else direct
    return Case(name, plan, hidden=hidden, compare=compare)


def _word(rng, seconds, amplitude):
    """A word-like clip: a few decaying tones with noise, (seconds * RATE,)."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    tones = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in rng.uniform(150, 3000, size=3))
    return amplitude * (tones / 3 + 0.3 * rng.standard_normal(n)) * np.hanning(n)


def insert_audio_clip_values(rng):
    g = np.random.default_rng(11)
    background = 0.01 * g.standard_normal(N_SAMPLES)
    clip = 0.5 * np.sin(np.arange(22050) / 10.0)
    cases = [_insert_case("the clip shown in the notebook", background, clip, [(0, 2999), (5000, 9999)], 3, hidden=False),
             _insert_case("no room left (shown in the notebook)", background, clip, [(0, 9999)], 3, hidden=False)]
    for k in range(3):
        background = float(rng.uniform(0.5, 5)) * rng.standard_normal(N_SAMPLES)
        clip = _word(rng, float(rng.uniform(0.2, 1.5)), float(rng.uniform(5, 20)))
        previous = [tuple(s) for s in _random_segments(rng, int(rng.integers(1 + k, 4 + 2 * k)))]
        cases.append(_insert_case(f"random clip, background and segments #{k + 1}", background, clip, previous,
                                  _seed(rng)))
    return cases


# ------------------------------------------------------------------ insert_ones

def insert_ones_values(rng):
    cases = [Case("the labels shown in the notebook", [
        Call("insert_ones", np.zeros((1, T_Y)), 9700, save="y1"),
        Call("insert_ones", Ref("y1"), 4251, out={"y after insert_ones(..., 9700) then 4251": ()}),
        Call("insert_ones", np.zeros((1, 200)), 5000, out={"insert_ones(np.zeros((1, 200)), 5000)": ()})],
        hidden=False)]
    for k in range(3):
        T = int(rng.integers(100, 2000))
        y = np.zeros((1, T))
        for _ in range(int(rng.integers(0, 3))):
            s = int(rng.integers(0, T))
            y[0, s:s + int(rng.integers(5, 60))] = 1.0
        ends = [int(rng.integers(0, CLIP_MS)), int(rng.integers(CLIP_MS - 300, CLIP_MS)), int(rng.integers(0, 200))]
        plan = [Call("insert_ones", y, e, out={f"insert_ones(y, {e}) with T_y = {T}": ()}) for e in ends]
        cases.append(Case(f"random labels and ends #{k + 1}", plan))
    return cases


# ------------------------------------------------------------------ spectrogram

def spectrogram_values(rng):
    g = np.random.default_rng(2)
    noise = 100 * g.standard_normal(N_SAMPLES)
    tone = 100 * np.sin(2 * np.pi * 5512.5 * np.arange(44100) / RATE)
    cases = [Case("the signals shown in the notebook", [
        Call("spectrogram", noise, out={"spectrogram of 10 s of noise": ()}),
        Call("spectrogram", tone, out={"spectrogram of a 5,512.5 Hz tone": ()}),
        Call("spectrogram", 100 * (np.arange(40.0) % 7 - 3), nfft=16, noverlap=6, out={"nfft=16, noverlap=6": ()}),
        Call("spectrogram", 100 * (np.arange(30.0) % 5), nfft=9, noverlap=3, out={"nfft=9, noverlap=3": ()})],
        hidden=False)]
    for k in range(3):
        plan = []
        for i in range(3):
            nfft = int(rng.integers(8, 300))
            noverlap = int(rng.integers(0, nfft))
            # at most 100,000 powers per call: a hop of 1 sample over 30,000 samples would be 4.5 million
            # (36 MB), more than the grader takes in one answer
            most = noverlap + (nfft - noverlap) * (100_000 // (nfft // 2 + 1))
            n = int(rng.integers(nfft + 1, min(30000, most) + 1))
            x = float(rng.uniform(30, 300)) * rng.standard_normal(n)
            plan.append(Call("spectrogram", x, nfft=nfft, noverlap=noverlap,
                             out={f"spectrogram of {n} samples with nfft={nfft}, noverlap={noverlap}": ()}))
        if k == 0:
            plan.append(Call("spectrogram", 50 * rng.standard_normal(N_SAMPLES),
                             out={"spectrogram of a 10-second clip (default nfft, noverlap)": ()}))
        cases.append(Case(f"random signals, frame sizes and overlaps #{k + 1}", plan))
    return cases


# ------------------------------------------------------------------ create_training_example

EXAMPLE_OUT = {"x": (0,), "y": (1,), "segments": (2,)}


def _example_case(name, background, activates, negatives, seed, rng, hidden=True):
    """The student's create_training_example, probes of its blocks on fixed inputs, and a replay of the protocol
    with the student's own blocks (same seed, one previous_segments list)."""
    words = list(activates) + list(negatives)
    probe_clip = _word(np.random.default_rng(seed + 1), 0.4, 10.0)
    plan = [Call("create_training_example", background, list(activates), list(negatives), Rng(seed), out=EXAMPLE_OUT)]
    # blocks on fixed inputs (both sides): insert_audio_clip (on is_overlapping), insert_ones, spectrogram
    block_groups, block_labels = [], []
    for tag, extra, probe_seed, end_ms, n in (("A", [], seed + 2, 4321, 3000), ("B", [(0, 999)], seed + 3, 9876, 2000)):
        first = _candidates(len(probe_clip), probe_seed)
        previous = [first[0]] + extra            # the first try always overlaps: a wrong is_overlapping shows
        placed = next(c for c in first if all(c[0] > e or c[1] < s for s, e in previous))
        sample = placed[0] * RATE // 1000
        out = {f"block insert {tag} segment": (1,)}
        out.update({f"block insert {tag} sample {i}": (0, take(0, i))
                    for i in (0, sample, sample + len(probe_clip) // 2, N_SAMPLES - 1)})
        plan += [Call("insert_audio_clip", background, probe_clip, list(previous), Rng(probe_seed), out=out),
                 Call("insert_ones", np.zeros((1, T_Y)), end_ms, out={f"block ones {tag}": ()}),
                 Call("spectrogram", 30 * np.random.default_rng(seed + n).standard_normal(n),
                      out={f"block spectrogram {tag}": ()})]
        block_labels += list(out) + [f"block ones {tag}", f"block spectrogram {tag}"]
        # real work is judged on the samples (a block that leaves every word out still shows some)
        block_groups.append([k for k in out if "sample" in k] + [f"block ones {tag}", f"block spectrogram {tag}"])
    # the replay, student only: the protocol with the student's blocks
    plan += [Call("id", Rng(seed), save="g", student_only=True), Call("id", [], save="prev", student_only=True)]
    for k, word in enumerate(words):
        plan.append(Call("insert_audio_clip", background if k == 0 else Ref(f"r{k - 1}", 0), word, Ref("prev"),
                         Ref("g"), save=f"r{k}", student_only=True, out={f"replay segment {k}": (1,)}))
    plan.append(Call("spectrogram", Ref(f"r{len(words) - 1}", 0) if words else background, student_only=True,
                     out={"replay x": ()}))
    for k in range(len(activates)):
        plan.append(Call("insert_ones", np.zeros((1, T_Y)) if k == 0 else Ref(f"o{k - 1}"), Ref("prev", k, 1),
                         save=f"o{k}", student_only=True, out={f"replay y {k}": ()}))
    plan.append(Call("id", Ref("prev"), student_only=True, out={"replay segments": ()}))

    def rules(s):
        blocks = [s.get(k) for k in block_labels]
        if _error_text(s.get("x")) is not None:
            ok = _charged_to_block(blocks, s.get("x"), ["insert_audio_clip", "insert_ones", "spectrogram",
                                                        "is_overlapping"])
            return [] if ok else ["not comparable"]
        segments = [s.get(f"replay segment {k}") for k in range(len(words))]
        if any(isinstance(v, dict) for v in segments) or isinstance(s.get("replay x"), dict):
            return ["not comparable"]
        inserted = sum(1 for v in segments[:len(activates)] if v is not None)
        want_y = s.get(f"replay y {inserted - 1}") if inserted else np.zeros((1, T_Y))
        bad = []
        if not testing.close(s.get("x"), s.get("replay x")):
            bad.append("x is not the spectrogram (your spectrogram) of what your insert_audio_clip made")
        if not (isinstance(want_y, np.ndarray) and testing.close(s.get("y"), want_y)):
            bad.append("y is not what your insert_ones gives at the ends of the inserted activates")
        got, want = s.get("segments"), s.get("replay segments")
        if not (isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)) and len(got) == len(want)
                and all(_segment(a) == _segment(b) != "bad" for a, b in zip(got, want))):
            bad.append("segments are not those your insert_audio_clip chose")
        return bad

    return Case(name, plan, hidden=hidden,
                compare=consistent_or_matching(list(EXAMPLE_OUT), rules, block_labels, block_groups=block_groups))


def create_training_example_values(rng):
    g = np.random.default_rng(21)
    background = 0.01 * g.standard_normal(N_SAMPLES)

    def tone_word(ms, hz):
        return 0.3 * np.sin(2 * np.pi * hz * np.arange(ms * RATE // 1000) / RATE)
    cases = [_example_case("the example shown in the notebook", background, [tone_word(600, 800), tone_word(450, 1200)],
                           [tone_word(700, 500)], 5, rng, hidden=False)]
    for k in range(3):
        background = float(rng.uniform(2, 10)) * rng.standard_normal(N_SAMPLES)
        n_act, n_neg = [(2, 1), (int(rng.integers(0, 4)), int(rng.integers(1, 3))), (int(rng.integers(1, 4)), 0)][k]
        activates = [_word(rng, float(rng.uniform(0.3, 1.0)), 30.0) for _ in range(n_act)]
        negatives = [_word(rng, float(rng.uniform(0.3, 1.0)), 30.0) for _ in range(n_neg)]
        cases.append(_example_case(f"random background and words #{k + 1}", background, activates, negatives,
                                   _seed(rng), rng))
    return cases


# ------------------------------------------------------------------ model_forward

def _small_detector(rng, n_x, n_f, kernel, n_a):
    p = parts.detector_params(rng, n_x=n_x, n_f=n_f, kernel=kernel, n_a=n_a, dtype=np.float64)
    for layer in p.values():
        for name, a in layer.items():
            if name in ("gamma", "beta") or name.startswith("b"):
                a += 0.3 * rng.standard_normal(a.shape)
    return p


def _model_case(name, X, p, state, train_seed, hidden=True):
    plan = [Call("id", state, save="st"),
            Call("model_forward", X, p, Ref("st"), False, None,
                 out={"probabilities (inference)": (0,), 'cache["logits"] (inference)': (1, "logits")}),
            Call("model_forward", X, p, Ref("st"), True, Rng(train_seed),
                 out={"probabilities (training)": (0,), 'cache["probs"] (training)': (1, "probs")}),
            Call("id", Ref("st"), out={"batch-norm state after a training pass": ()})]
    return Case(name, plan, hidden=hidden)


def model_forward_values(rng):
    g = np.random.default_rng(8)
    p = _small_detector(g, 4, 5, 3, 3)
    X = g.standard_normal((4, 2, 23))
    cases = [_model_case("the small detector shown in the notebook", X, p, parts.detector_state(p), 9, hidden=False)]
    for k in range(3):
        n_x, n_f, kernel, n_a = (int(rng.integers(3, 7)), int(rng.integers(3, 7)), int(rng.integers(2, 6)),
                                 int(rng.integers(2, 5)))
        m, T_y = int(rng.integers(1, 4)), int(rng.integers(3, 8))
        T_x = kernel + 4 * (T_y - 1) + int(rng.integers(0, 4))
        p = _small_detector(rng, n_x, n_f, kernel, n_a)
        state = parts.detector_state(p)
        for s in state.values():                                   # running statistics away from (0, 1)
            s["mean"] += 0.3 * rng.standard_normal(s["mean"].shape)
            s["var"] *= np.exp(0.3 * rng.standard_normal(s["var"].shape))
        X = rng.standard_normal((n_x, m, T_x))
        cases.append(_model_case(f"random small detector #{k + 1}", X, p, state, _seed(rng)))
    return cases


# ------------------------------------------------------------------ chime_positions

def chime_positions_values(rng):
    p = np.zeros(400)
    p[10:30], p[50:60], p[100:130], p[176], p[250:260], p[300:] = 0.9, 0.8, 0.7, 0.6, 0.5, 0.95
    cases = [Case("the outputs shown in the notebook", [
        Call("chime_positions", p, 0.5, out={"chime_positions(p, 0.5)": ()}),
        Call("chime_positions", p, 0.5, min_gap=200, out={"chime_positions(p, 0.5, min_gap=200)": ()}),
        Call("chime_positions", np.array([0.9, 0.9, 0.1, 0.9]), 0.5, min_gap=1, out={"an output on at step 0": ()}),
        Call("chime_positions", np.full(50, 0.2), 0.5, out={"an output that never crosses": ()})], hidden=False)]
    for k in range(3):
        T = int(rng.integers(300, 1500))
        threshold = float(rng.uniform(0.3, 0.8))
        probs = rng.uniform(0, threshold * 0.9, size=T)
        for _ in range(int(rng.integers(3, 9))):
            s = int(rng.integers(0, T - 5))
            probs[s:s + int(rng.integers(1, 60))] = rng.uniform(threshold + 0.01, 1.0)
        probs[int(rng.integers(0, T))] = threshold                 # at the threshold: not above it
        gap = int(rng.integers(5, 120))
        cases.append(Case(f"random outputs, threshold and gap #{k + 1}", [
            Call("chime_positions", probs, threshold, min_gap=gap, out={"positions": ()}),
            Call("chime_positions", probs, threshold, out={"positions with the default min_gap": ()})]))
    return cases


# ------------------------------------------------------------------ detection_metrics

METRICS_OUT = {"precision": (0,), "recall": (1,), "f1": (2,), "frame_accuracy": (3,)}


def _labels_and_outputs(rng, m, T):
    y = np.zeros((1, m, T))
    probs = rng.uniform(0, 0.4, size=(1, m, T))
    for i in range(m):
        for _ in range(int(rng.integers(0, 4))):
            s = int(rng.integers(0, T - 10))
            y[0, i, s:s + int(rng.integers(3, 10))] = 1
            if rng.random() < 0.7:                                 # a detection overlapping the word
                a = s + int(rng.integers(-3, 5))
                probs[0, i, max(0, a):max(0, a) + int(rng.integers(1, 6))] = rng.uniform(0.6, 1.0)
        for _ in range(int(rng.integers(0, 3))):                   # false alarms (or second detections)
            a = int(rng.integers(0, T - 3))
            probs[0, i, a:a + int(rng.integers(1, 4))] = rng.uniform(0.6, 1.0)
    return probs, y


def detection_metrics_values(rng):
    y = np.zeros((1, 2, 40))
    y[0, 0, 5:10] = y[0, 0, 20:25] = y[0, 1, 30:35] = 1
    p = np.zeros((1, 2, 40))
    p[0, 0, 7:13], p[0, 0, 15:17], p[0, 0, 22:24], p[0, 1, 0:2], p[0, 1, 31], p[0, 1, 33:36], p[0, 1, 38] = \
        0.9, 0.8, 0.7, 0.6, 0.9, 0.9, 0.5
    cases = [Case("the outputs shown in the notebook", [
        Call("detection_metrics", p, y, 0.5, out=METRICS_OUT),
        Call("detection_metrics", np.zeros_like(p), y, 0.5, out={f"{k} (always 0)": v for k, v in METRICS_OUT.items()}),
        Call("detection_metrics", p[0, 1], y[0, 1], 0.5, out={f"{k} (one clip)": v for k, v in METRICS_OUT.items()})],
        hidden=False)]
    for k in range(3):
        m, T = int(rng.integers(1, 5)), int(rng.integers(60, 300))
        probs, labels = _labels_and_outputs(rng, m, T)
        threshold = float(rng.uniform(0.45, 0.65))
        plan = [Call("detection_metrics", probs, labels, threshold, out=METRICS_OUT),
                Call("detection_metrics", probs[0, 0], labels[0, 0], threshold,
                     out={f"{name} (the first clip alone)": v for name, v in METRICS_OUT.items()})]
        cases.append(Case(f"random words and detections #{k + 1}", plan))
    return cases


CHECKS = {
    "is_overlapping_values": is_overlapping_values,
    "insert_audio_clip_values": insert_audio_clip_values,
    "insert_ones_values": insert_ones_values,
    "spectrogram_values": spectrogram_values,
    "create_training_example_values": create_training_example_values,
    "model_forward_values": model_forward_values,
    "chime_positions_values": chime_positions_values,
    "detection_metrics_values": detection_metrics_values,
}
