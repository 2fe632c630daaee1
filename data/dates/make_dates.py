"""Make the date-translation data: (human date, ISO date, format family) triples.

    .venv/bin/python data/dates/make_dates.py            # rewrites data/dates/{train,test}.tsv, vocab.json
    .venv/bin/python data/dates/make_dates.py --out DIR  # writes them to DIR instead

What it writes
--------------
train.tsv (10,000 lines) and test.tsv (1,000 lines), UTF-8, one example per line, in generation order,
no header: ``human<TAB>iso<TAB>family``, e.g. ``3rd of March 2001	2001-03-03	ordinal``.
vocab.json: the human vocabulary (sorted lower-cased characters that occur, then "<unk>", "<pad>") and the
machine vocabulary ("-" and the ten digits, sorted).

Dates are drawn uniformly from 1900-01-01 to 2099-12-31 without repetition: 11,000 distinct days, the
first 10,000 for training and the last 1,000 for testing, so no ISO date is in both sets.

Conventions (the label is always the true ISO date)
---------------------------------------------------
- Numbers-only dates with the year last are month first, the US way of babel's en_US short format:
  3/4/01 and 03.04.2001 are March 4. Numbers-only dates with the year first are year-month-day
  (2001/03/04, 2001.3.4, 20010304). Day-first dates always spell the month (4-Mar-2001, 04.march.2001).
- Two-digit years follow the POSIX / Python strptime("%y") pivot: 69-99 -> 1969-1999, 00-68 -> 2000-2068.
  A format with a two-digit year is only used for dates in 1969-2068, so every string has one reading.
- Years are calendar years (babel pattern letter y, never the week-numbering Y).
- Weekday names, where a format has one, are the true weekday of the date.

Reproducible by construction: the only randomness is ``random.Random(SEED).random()``, whose sequence Python
guarantees across versions (no randrange, choice or shuffle, whose algorithms may change, and no numpy
draws); choices are made from it here. babel only formats fixed patterns (its en_US data for the short,
medium, long and full formats and the custom patterns below). Nothing reads today's date.
The formatted strings are kept to at most MAX_LEN characters: a longer one is formatted again with a fresh
format draw (the count of such redraws is printed).
"""
import argparse
import datetime
import json
import random
import sys
from pathlib import Path

from babel.dates import format_date

SEED = 1204
N_TRAIN, N_TEST = 10_000, 1_000
FIRST, LAST = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
TWO_DIGIT_YEARS = (1969, 2068)          # years a two-digit-year format may show
MAX_LEN = 30                            # T_x of the model
LOCALE = "en_US"

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
MONTHS_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")   # date.weekday()
WEEKDAYS_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAYS_HAND = {1: ("Tue", "Tues"), 3: ("Thu", "Thur", "Thurs")}            # other ways people cut them


class Draw:
    """Choices made from random.Random(seed).random() alone (its sequence is stable across Pythons)."""

    def __init__(self, seed):
        self._random = random.Random(seed)

    def index(self, n):
        """An integer in [0, n), uniform."""
        return min(int(self._random.random() * n), n - 1)

    def pick(self, options):
        return options[self.index(len(options))]

    def chance(self, p):
        return self._random.random() < p

    def weighted(self, weights):
        """A key of ``weights`` (dict key -> positive weight), in proportion to its weight."""
        total = sum(weights.values())
        x = self._random.random() * total
        for key, w in weights.items():
            x -= w
            if x < 0:
                return key
        return key


# --------------------------------------------------------------------------- pieces of hand-written formats

def ordinal(day):
    """1 -> '1st', 2 -> '2nd', 3 -> '3rd', 11 -> '11th', 22 -> '22nd'."""
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def month_abbr(d, draw):
    """Three-letter month, or 'Sept' now and then for September."""
    if d.month == 9 and draw.chance(0.3):
        return "Sept"
    return MONTHS_ABBR[d.month - 1]


def weekday_abbr(d, draw):
    wd = d.weekday()
    return draw.pick(WEEKDAYS_HAND[wd]) if wd in WEEKDAYS_HAND else WEEKDAYS_ABBR[wd]


def fields(d, draw):
    """Every piece a hand-written template may use, for date d."""
    return {
        "d": str(d.day), "dd": f"{d.day:02d}", "m": str(d.month), "mm": f"{d.month:02d}",
        "y": str(d.year), "yy": f"{d.year % 100:02d}",
        "ord": ordinal(d.day), "Month": MONTHS[d.month - 1], "Mon": month_abbr(d, draw),
        "Weekday": WEEKDAYS[d.weekday()], "Wd": weekday_abbr(d, draw),
    }


def recase(text, draw, lower=0.5):
    """The text as written (capitalised names) or all lower case."""
    return text.lower() if draw.chance(lower) else text


# --------------------------------------------------------------------------- families
# Each family: a function (date, draw, two_digit_ok) -> string, or None when the family has no format
# for this date (its formats all need a two-digit year and the year is outside TWO_DIGIT_YEARS).

def babel_named(name):
    def family(d, draw, two_digit_ok):
        if name == "short" and not two_digit_ok:                      # en_US short is M/d/yy
            return None
        return format_date(d, name, locale=LOCALE)
    return family


# babel patterns with month words (y = calendar year, always)
WORD_PATTERNS = ("d MMM y", "d MMMM y", "dd MMM y", "d MMMM, y", "MMM d y", "MMMM d y", "MMMM dd, y",
                 "MMM dd y", "EEE, MMM d, y", "EEEE d MMMM y", "EEE d MMM y", "EEEE, d MMMM y", "MMMM d, yyyy")
# babel patterns, numbers only, month first; two-digit years only where the year allows it
NUMERIC_PATTERNS = ("MM/dd/y", "M/d/y", "MM-dd-y", "M-d-y", "MM.dd.y", "M.d.y", "MM/dd/yyyy", "MM dd y")
NUMERIC_PATTERNS_YY = ("MM/dd/yy", "M/d/yy", "MM-dd-yy", "MM.dd.yy", "M.d.yy")
# babel patterns, year first
YEAR_FIRST_PATTERNS = ("y-MM-dd", "y/MM/dd", "y/M/d", "y.MM.dd", "y.M.d", "yyyy-M-d", "yyyyMMdd", "y MM dd")


def babel_patterns(patterns, patterns_yy=()):
    def family(d, draw, two_digit_ok):
        options = patterns + (patterns_yy if two_digit_ok else ())
        return format_date(d, draw.pick(options), locale=LOCALE)
    return family


def hand(templates, templates_yy=(), lower=0.5):
    """A family of hand-written templates (str.format with the keys of ``fields``), as written or lower case."""
    def family(d, draw, two_digit_ok):
        options = templates + (templates_yy if two_digit_ok else ())
        if not options:
            return None
        return recase(draw.pick(options).format(**fields(d, draw)), draw, lower)
    return family


ORDINAL = ("{ord} of {Month} {y}", "the {ord} of {Month} {y}", "the {ord} of {Month}, {y}", "{Month} {ord}, {y}",
           "{Month} {ord} {y}", "{ord} {Month} {y}", "{ord} {Mon} {y}", "{Mon} {ord} {y}", "{Mon}. {ord}, {y}",
           "the {ord} of {Mon}. {y}", "{Weekday} the {ord} of {Month} {y}", "{Wd}, {Month} {ord}, {y}",
           "{Weekday}, {ord} {Month} {y}", "{ord} of {Mon} {y}")
ABBREV_DOT = ("{Mon}. {d}, {y}", "{Mon}. {d} {y}", "{d} {Mon}. {y}", "{dd} {Mon}. {y}", "{Mon} {d}, {y}",
              "{Mon} {d} {y}", "{d} {Mon} {y}", "{Wd}. {Mon}. {d}, {y}", "{Wd}. {d} {Mon}. {y}",
              "{Mon}. {dd}, {y}")
WEEKDAY = ("{Wd} {d} {Mon} {y}", "{Weekday} {d} {Month} {y}", "{Wd}, {d} {Mon} {y}", "{Weekday}, {Month} {d} {y}",
           "{Wd} {Mon} {d} {y}", "{Wd} {mm}/{dd}/{y}", "{Weekday} {Mon} {d}, {y}", "{Wd}, {Month} {d}, {y}",
           "{Weekday} {y}-{mm}-{dd}", "{Wd} {m}.{d}.{y}")
WEEKDAY_YY = ("{Wd} {d} {Mon} {yy}", "{Weekday} {m}/{d}/{yy}")
DMY_SEP = ("{d}-{Mon}-{y}", "{dd}-{Mon}-{y}", "{dd}.{Mon}.{y}", "{d}.{Month}.{y}", "{d}/{Month}/{y}",
           "{dd}/{Mon}/{y}", "{d}/{Mon}/{y}", "{d}-{Month}-{y}", "{dd}.{Month}.{y}", "{d} - {Mon} - {y}")
DMY_SEP_YY = ("{dd}-{Mon}-{yy}", "{d}.{Mon}.{yy}", "{dd}/{Mon}/{yy}")
YEAR_FIRST_HAND = ("{y} {Mon} {d}", "{y}-{Mon}-{dd}", "{y} {Month} {d}", "{y}, {Month} {ord}", "{y}/{Mon}/{d}")

WORD_FAMILIES = ("medium", "long", "full", "words", "ordinal", "abbrev_dot", "weekday", "dmy_sep")


def year_first(d, draw, two_digit_ok):
    if draw.chance(0.3):
        return hand(YEAR_FIRST_HAND)(d, draw, two_digit_ok)
    return babel_patterns(YEAR_FIRST_PATTERNS)(d, draw, two_digit_ok)


def upper(d, draw, two_digit_ok):
    """A word format in capitals: 'SUNDAY, MARCH 4, 2001'."""
    text = FAMILIES[draw.pick(WORD_FAMILIES)](d, draw, two_digit_ok)
    return None if text is None else text.upper()


def mixed_case(d, draw, two_digit_ok):
    """A word format with each letter's case drawn: 'sUnDay, MArCH 4, 2001'."""
    text = FAMILIES[draw.pick(WORD_FAMILIES)](d, draw, two_digit_ok)
    if text is None:
        return None
    for _ in range(20):                                               # until the cases really are mixed
        mixed = "".join(ch.upper() if draw.chance(0.5) else ch.lower() for ch in text)
        if mixed not in (text, text.lower(), text.upper(), text.title()):
            break
    return mixed


def extra_spaces(d, draw, two_digit_ok):
    """Any format with extra spaces: doubled gaps, spaces around separators, leading or trailing spaces."""
    base = draw.pick(tuple(k for k in FAMILIES if k not in ("upper", "mixed_case", "extra_spaces")))
    text = FAMILIES[base](d, draw, two_digit_ok)
    if text is None:
        return None
    out = []
    for ch in text:
        if ch == " ":
            out.append(" " * (1 + draw.index(3)))
        elif ch in "/-.," and draw.chance(0.4):
            out.append((" " if ch != "," and draw.chance(0.5) else "") + ch + " ")
        else:
            out.append(ch)
    spaced = " " * draw.index(3) + "".join(out) + " " * draw.index(3)
    if spaced.count(" ") == text.count(" "):                       # nothing added: pad both ends
        spaced = " " + spaced + "  "
    return spaced


FAMILIES = {
    "short": babel_named("short"),                                   # 3/4/01
    "medium": babel_named("medium"),                                 # Mar 4, 2001
    "long": babel_named("long"),                                     # March 4, 2001
    "full": babel_named("full"),                                     # Sunday, March 4, 2001
    "words": babel_patterns(WORD_PATTERNS),                          # 4 Mar 2001, Sun 4 Mar 2001
    "numeric": babel_patterns(NUMERIC_PATTERNS, NUMERIC_PATTERNS_YY),  # 03/04/2001, 3.4.01 (month first)
    "year_first": year_first,                                        # 2001-03-04, 2001/3/4, 2001 Mar 4
    "ordinal": hand(ORDINAL),                                        # 3rd of March 2001, the 3rd of march 2001
    "abbrev_dot": hand(ABBREV_DOT),                                  # Mar. 4, 2001, 4 mar 2001
    "weekday": hand(WEEKDAY, WEEKDAY_YY),                            # tue 12 jun 2001, Saturday 12 May 2018
    "dmy_sep": hand(DMY_SEP, DMY_SEP_YY),                            # 4-Mar-2001, 04.march.2001, 04-MAR-01
    "upper": upper,
    "mixed_case": mixed_case,
    "extra_spaces": extra_spaces,
}
WEIGHTS = {"short": 12, "medium": 7, "long": 7, "full": 7, "words": 9, "numeric": 9, "year_first": 7, "ordinal": 9,
           "abbrev_dot": 7, "weekday": 8, "dmy_sep": 7, "upper": 5, "mixed_case": 4, "extra_spaces": 6}


# --------------------------------------------------------------------------- the data set

def draw_dates(draw, n):
    """n distinct dates, uniform over FIRST..LAST, in draw order."""
    n_days = (LAST - FIRST).days + 1
    seen, days = set(), []
    while len(days) < n:
        k = draw.index(n_days)
        if k not in seen:
            seen.add(k)
            days.append(k)
    return [FIRST + datetime.timedelta(days=k) for k in days]


def humanise(d, draw, stats):
    """(human string, family) for date d; at most MAX_LEN characters."""
    two_digit_ok = TWO_DIGIT_YEARS[0] <= d.year <= TWO_DIGIT_YEARS[1]
    while True:
        family = draw.weighted(WEIGHTS)
        text = FAMILIES[family](d, draw, two_digit_ok)
        if text is None:
            continue
        if len(text) > MAX_LEN:
            stats["redrawn_too_long"] += 1
            continue
        return text, family


def make(seed=SEED):
    """Returns (train, test, vocab): lists of (human, iso, family) and the vocabulary dict."""
    draw = Draw(seed)
    dates = draw_dates(draw, N_TRAIN + N_TEST)
    stats = {"redrawn_too_long": 0}
    rows = []
    for d in dates:
        text, family = humanise(d, draw, stats)
        if "\t" in text or "\n" in text:
            raise AssertionError(f"a separator in {text!r}")
        rows.append((text, d.isoformat(), family))
    chars = sorted({ch for text, _, _ in rows for ch in text.lower()})
    vocab = {"human": chars + ["<unk>", "<pad>"], "machine": sorted("0123456789-")}
    return rows[:N_TRAIN], rows[N_TRAIN:], vocab, stats


def write(out_dir, seed=SEED):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test, vocab, stats = make(seed)
    for name, rows in (("train.tsv", train), ("test.tsv", test)):
        with open(out_dir / name, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(f"{h}\t{iso}\t{fam}\n" for h, iso, fam in rows)
    with open(out_dir / "vocab.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(vocab, f, indent=1, ensure_ascii=True)
        f.write("\n")
    return train, test, vocab, stats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent), help="output folder")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    train, test, vocab, stats = write(args.out)
    if not args.quiet:
        rows = train + test
        lengths = [len(h) for h, _, _ in rows]
        print(f"train {len(train)}, test {len(test)}; human vocabulary {len(vocab['human'])} "
              f"(with <unk>, <pad>), machine vocabulary {len(vocab['machine'])}")
        print(f"longest human string {max(lengths)} characters; over {MAX_LEN}: "
              f"{sum(n > MAX_LEN for n in lengths)}; formats redrawn for length: {stats['redrawn_too_long']}")
        counts = {}
        for _, _, fam in rows:
            counts[fam] = counts.get(fam, 0) + 1
        print("families:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        print("characters:", repr("".join(vocab["human"][:-2])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
