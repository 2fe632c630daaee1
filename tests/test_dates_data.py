"""The date-translation data (data/dates/): reproducible, disjoint, labelled right, inside the vocabulary."""
import datetime
import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from utils import dates

DATES = Path(__file__).resolve().parent.parent / "data" / "dates"
FAMILIES = {"short", "medium", "long", "full", "words", "numeric", "year_first", "ordinal", "abbrev_dot", "weekday",
            "dmy_sep", "upper", "mixed_case", "extra_spaces"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def load_generator():
    spec = importlib.util.spec_from_file_location("make_dates", DATES / "make_dates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return load_generator()


@pytest.fixture(scope="module")
def data():
    return dates.load_pairs("train"), dates.load_pairs("test")


def test_generator_reproduces_committed_files(tmp_path, gen):
    """Running make_dates.py again writes train.tsv, test.tsv and vocab.json byte for byte."""
    gen.main(["--out", str(tmp_path), "--quiet"])
    for name in ("train.tsv", "test.tsv", "vocab.json"):
        assert (tmp_path / name).read_bytes() == (DATES / name).read_bytes(), f"{name} differs from the committed file"


def test_sizes_and_disjoint_dates(data):
    """10,000 training and 1,000 test examples; 11,000 distinct dates, so no date is in both sets."""
    train, test = data
    assert (len(train), len(test)) == (10_000, 1_000)
    train_iso, test_iso = {iso for _, iso, _ in train}, {iso for _, iso, _ in test}
    assert len(train_iso) == 10_000 and len(test_iso) == 1_000
    assert not train_iso & test_iso


def test_labels_parse_and_are_in_range(data):
    """Every label is a YYYY-MM-DD date from 1900-01-01 to 2099-12-31, and the years spread over the range."""
    years = Counter()
    for _, iso, _ in data[0] + data[1]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", iso), iso
        d = datetime.date.fromisoformat(iso)
        assert datetime.date(1900, 1, 1) <= d <= datetime.date(2099, 12, 31)
        years[d.year // 20] += 1
    assert len(years) == 10 and min(years.values()) > 900           # 20-year bins, about 1,100 each


def test_vocabularies(data):
    """Human vocabulary: the sorted lower-cased characters that occur, then <unk>, <pad>; machine: '-' and digits."""
    human, machine, inv_machine = dates.load_vocab()
    chars = sorted({ch for h, _, _ in data[0] + data[1] for ch in h.lower()})
    assert list(human) == chars + ["<unk>", "<pad>"]
    assert list(human.values()) == list(range(len(human)))
    assert len(human) == 39                                          # the original course had 37
    assert sorted(machine) == sorted("0123456789-") and len(machine) == 11
    assert all(inv_machine[i] == ch for ch, i in machine.items())
    for h, iso, _ in data[0] + data[1]:
        assert set(h.lower()) <= set(human) and set(iso) <= set(machine)


def test_human_strings_fit_T_x_and_are_one_line(data):
    for h, _, fam in data[0] + data[1]:
        assert 0 < len(h) <= 30 and h.strip(), (h, fam)
        assert "\t" not in h and "\n" not in h


def test_every_family_is_represented(data):
    """The 14 families all occur, at least 40 times in the test set, so per-family accuracy means something."""
    train, test = data
    assert {f for _, _, f in train} == FAMILIES == {f for _, _, f in test}
    assert min(Counter(f for _, _, f in test).values()) >= 40


def test_years_are_calendar_years_and_two_digit_years_follow_the_pivot(data):
    """The year written is the true calendar year (no week-numbering year); a two-digit year only for 1969-2068."""
    for h, iso, fam in data[0] + data[1]:
        year = int(iso[:4])
        numbers = re.findall(r"\d+", h)
        four = [n for n in numbers if len(n) == 4]
        if re.fullmatch(r"\s*\d{8}\s*", h):                          # yyyyMMdd
            four = [h.strip()[:4]]
        if four:
            assert four == [str(year)], (h, iso)
        else:
            assert 1969 <= year <= 2068, (h, iso)
            assert f"{year % 100:02d}" in numbers, (h, iso)


def test_numbers_only_dates_are_month_first(data):
    """US convention: in numbers-only dates with the year last, the month comes first (3/4/01 is March 4)."""
    checked = 0
    for h, iso, fam in data[0] + data[1]:
        d = datetime.date.fromisoformat(iso)
        if re.fullmatch(r"[\d\s./-]+", h) and fam != "year_first":
            numbers = [int(n) for n in re.findall(r"\d+", h)]
            if len(numbers) == 3 and numbers[0] < 100:
                assert numbers[:2] == [d.month, d.day], (h, iso, fam)
                checked += 1
    assert checked > 1000


def test_weekdays_are_true(data):
    """A weekday name, where a string has one, is the weekday of the labelled date."""
    checked = 0
    for h, iso, _ in data[0] + data[1]:
        text = h.lower()
        named = [i for i, w in enumerate(WEEKDAYS) if re.search(r"\b" + w[:3], text)]
        if named:
            assert named == [datetime.date.fromisoformat(iso).weekday()], (h, iso)
            checked += 1
    assert checked > 1500


def test_every_string_has_one_reading(data):
    """No human string (lower-cased, spaces collapsed) is labelled with two dates."""
    seen = {}
    for h, iso, _ in data[0] + data[1]:
        key = " ".join(h.lower().split())
        assert seen.setdefault(key, iso) == iso, (h, seen[key], iso)


def test_hand_checked_examples(gen):
    """A few formats checked by hand, including babel's en_US short format (month first, two-digit year)."""
    d = datetime.date(2001, 3, 4)                                   # a Sunday
    draw = gen.Draw(0)
    assert gen.FAMILIES["short"](d, draw, True) == "3/4/01"
    assert gen.FAMILIES["short"](d, draw, False) is None          # no two-digit year outside 1969-2068
    assert gen.FAMILIES["medium"](d, draw, True) == "Mar 4, 2001"
    assert gen.FAMILIES["long"](d, draw, True) == "March 4, 2001"
    assert gen.FAMILIES["full"](d, draw, True) == "Sunday, March 4, 2001"
    # the week-numbering year of 2000-12-31 is 2001: the data must say 2000
    assert gen.format_date(datetime.date(2000, 12, 31), "d MMM y", locale="en_US") == "31 Dec 2000"
    assert [gen.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]
    fields = gen.fields(datetime.date(2001, 6, 12), gen.Draw(1))
    assert "{ord} of {Month} {y}".format(**fields) == "12th of June 2001"
    assert fields["Wd"] in ("Tue", "Tues")


def test_examples_in_the_files(data):
    """Spot checks of committed rows: each family's strings look like their family."""
    rows = data[0] + data[1]
    by_family = {}
    for h, iso, fam in rows:
        by_family.setdefault(fam, []).append((h, iso))
    assert all(re.fullmatch(r"\d{1,2}/\d{1,2}/\d\d", h) for h, _ in by_family["short"])
    assert all(re.search(r"\d(st|nd|rd|th)\b", h.lower()) for h, _ in by_family["ordinal"])
    assert all(h == h.upper() for h, _ in by_family["upper"])
    assert all(h != h.lower() and h != h.upper() for h, _ in by_family["mixed_case"])
    assert all(h != " ".join(h.split()) or re.search(r" [./-]|[./-] ", h) for h, _ in by_family["extra_spaces"])
    assert any("." in h for h, _ in by_family["abbrev_dot"]) and any("." not in h for h, _ in by_family["abbrev_dot"])
    for sep in ".-/":
        assert any(sep in h for h, _ in by_family["dmy_sep"])
    assert all(re.match(r"\s*\d{4}", h) for h, _ in by_family["year_first"])


def test_load_pairs_reports_a_bad_file(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("only two\tcolumns\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        dates.load_pairs(str(bad))
    with pytest.raises(FileNotFoundError, match="make_dates"):
        dates.load_pairs("nope", data_dir=tmp_path)


def test_vocab_file_is_what_the_generator_says(gen):
    _, _, vocab, _ = gen.make()
    assert json.loads((DATES / "vocab.json").read_text(encoding="utf-8")) == vocab
