"""What each release ships is derived from what its notebook imports (tools/course.py, release_utils)."""
import ast
import os

import pytest

from tools import course


@pytest.mark.parametrize("assignment", course.assignments())
def test_release_ships_exactly_the_imported_utils(assignment):
    shipped = sorted(n for n in os.listdir(os.path.join(course.ROOT, "release", assignment, "utils"))
                     if n.endswith(".py"))
    assert shipped == sorted(course.manifest(assignment)["utils"])


@pytest.mark.parametrize("assignment", course.assignments())
def test_every_shipped_module_finds_what_it_imports(assignment):
    shipped = {n[:-3] for n in course.manifest(assignment)["utils"]}
    for name in shipped:
        with open(os.path.join(course.ROOT, "utils", name + ".py")) as f:
            needed = course.utils_imports(ast.parse(f.read()))
        assert needed <= shipped, f"utils/{name}.py needs {sorted(needed - shipped)}, not shipped with {assignment}"


def test_imports_are_read_from_the_code_and_optional_ones_skipped():
    tree = ast.parse("from utils import a, b\nimport utils.c\nfrom utils.d import x\n"
                     "def f():\n    from utils import e\n"
                     "try:\n    from utils import answer_key\nexcept ImportError:\n    pass\n")
    assert course.utils_imports(tree) == {"a", "b", "c", "d", "e"}
