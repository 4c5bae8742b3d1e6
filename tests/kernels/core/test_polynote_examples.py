"""Polynote's published example notebooks run unmodified on the engine, cell by cell, in one Spark kernel.

The notebooks are Polynote's own (tests/notebooks/data/polynote, with their source and licence named there).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EXAMPLES = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "polynote"
# The one cell Polynote's own text says fails there ("Python doesn't know what to do with a Scala `Seq`").
FAILS_IN_POLYNOTE = {("Accessing a Python object in Scala.ipynb", "pyInst.getLength(Seq(1,2,3))")}


# Examples whose Python results are the same on every run: each must equal the result Polynote stored.
SAME_RESULTS = {"Accessing a Scala object in Python.ipynb"}


def _cells(path: Path) -> list[tuple[str, str, str | None]]:
    """(language, source, the text/plain result Polynote stored or None) of each code cell."""
    cells = json.loads(path.read_text())["cells"]
    found = []
    for cell in cells:
        if cell["metadata"]["language"] == "text":
            continue
        results = [o for o in cell.get("outputs") or [] if o.get("output_type") == "execute_result"]
        stored = "".join(results[0]["data"]["text/plain"]) if results else None
        found.append((cell["metadata"]["language"], "".join(cell["source"]), stored))
    return found


def test_all_eight_examples_are_here() -> None:
    assert len(sorted(EXAMPLES.glob("*.ipynb"))) == 8


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.ipynb")), ids=lambda p: p.stem)
def test_a_polynote_example_runs_unmodified(spark_kernel, path: Path) -> None:  # type: ignore[no-untyped-def]
    for index, (language, source, stored) in enumerate(_cells(path)):
        run = spark_kernel.add_and_run(f"c{index}", source, language=language)
        if (path.name, source.strip()) in FAILS_IN_POLYNOTE:
            continue
        assert run.state == "done", (source, run.outputs)
        if path.name in SAME_RESULTS and language == "python" and stored is not None:
            # Polynote shows a string's text; Python's display shows its repr, as Jupyter does.
            assert run.data()["text/plain"] in (stored, repr(stored)), source


def test_jvm_collections_keep_their_methods_and_floats_their_value(spark_kernel) -> None:  # type: ignore[no-untyped-def]
    made = spark_kernel.add_and_run("s", "val xs = Seq(10, 20, 30)\nclass F { def add(a: Float, b: Float) = a + b }\n"
                                    "val f = new F()", language="scala")
    assert made.state == "done", made.outputs
    run = spark_kernel.add_and_run("p", "from math import pi\nprint(xs.length(), xs.apply(1), repr(f.add(1.0, pi)))")
    assert run.state == "done", run.outputs
    assert run.stdout == "3 20 4.141592979431152\n"


def test_python_lists_in_scala_have_polynotes_conveniences(spark_kernel) -> None:  # type: ignore[no-untyped-def]
    spark_kernel.add_and_run("p", "ids = [1, 2]\nnames = {'a': 1}")
    run = spark_kernel.add_and_run("s", "val xs = for (i <- ids.asScalaList) yield i.as[Integer] + 1\n"
                                   "(xs, names.asScalaMap)", language="scala")
    assert run.state == "done", run.outputs
    assert run.data()["text/plain"] == "(List(2, 3),Map(a -> 1))"
