"""Checks on data/dinos.txt, the dinosaur-genus corpus for the character-level
language-model notebook (see data/README.md, section "dinos.txt")."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DINOS = os.path.join(ROOT, "data", "dinos.txt")


@pytest.fixture(scope="module")
def text():
    with open(DINOS, encoding="ascii") as fh:
        return fh.read()


@pytest.fixture(scope="module")
def names(text):
    return text.split("\n")[:-1]


def test_file_ends_with_single_newline_and_has_no_blank_lines(text, names):
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert all(name for name in names)
    assert "\r" not in text


def test_at_least_1500_names(names):
    assert len(names) >= 1500


def test_each_line_is_a_capitalised_genus_name(names):
    pattern = re.compile(r"^[A-Z][a-z]+$")
    bad = [name for name in names if not pattern.match(name)]
    assert bad == []


def test_sorted_by_lower_case(names):
    assert names == sorted(names, key=str.lower)


def test_no_duplicates_case_insensitive(names):
    lowered = [name.lower() for name in names]
    assert len(lowered) == len(set(lowered))


def test_vocabulary_is_newline_plus_a_to_z(text):
    vocab = sorted(set(text.lower()))
    assert vocab == ["\n"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    assert len(vocab) == 27


@pytest.mark.parametrize(
    "genus",
    [
        "Tyrannosaurus",
        "Triceratops",
        "Stegosaurus",
        "Velociraptor",
        "Brachiosaurus",
        "Diplodocus",
        "Iguanodon",
        "Ankylosaurus",
        "Spinosaurus",
        "Allosaurus",
        "Parasaurolophus",
        "Archaeopteryx",
    ],
)
def test_famous_genera_present(names, genus):
    assert genus in names


@pytest.mark.parametrize(
    "not_a_dinosaur",
    ["Pteranodon", "Plesiosaurus", "Ichthyosaurus", "Dimetrodon", "Smilodon"],
)
def test_well_known_non_dinosaurs_absent(names, not_a_dinosaur):
    assert not_a_dinosaur not in names
