"""What the reproducibility report compares: outputs as lines, with what legitimately varies normalised away."""

from __future__ import annotations

from kernels.core.tables import TABLE_MIME
from runs.report import normalise, render_lines


def test_timestamps_addresses_uuids_and_ids_are_normalised() -> None:
    assert normalise("at 2026-11-30T08:31:24.5Z <Foo object at 0x7f3a2b1c0e50> run 1b4e28ba-2fa1-11d2-883f-0016d3cca427") \
        == "at <timestamp> <Foo object at 0x<address>> run <uuid>"
    assert normalise("took 08:31:24 pid=4242") == "took <time> pid=<id>"
    assert normalise("42 0x1f") == "42 0x1f"


def test_outputs_render_by_kind_and_images_by_hash() -> None:
    lines = render_lines([
        {"output_type": "stream", "name": "stdout", "text": "a\nb\n"},
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["long", "trace"]},
        {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}},
    ])
    assert lines[:3] == ["[stdout] a", "[stdout] b", "[error] ValueError: bad"]
    assert lines[3].startswith("[image/png] sha256 ") and lines[4] == "[result] <Figure>"


def test_a_tables_reference_in_its_kernel_is_not_a_difference() -> None:
    def table(ref: str) -> dict:
        return {"output_type": "execute_result", "data": {
            TABLE_MIME: {"schema": [{"name": "a"}], "rows": [[1]], "total_rows": 1, "offset": 0, "page_size": 50,
                         "ref": ref}}}
    assert render_lines([table("cell:1")]) == render_lines([table("cell:7")])
    assert render_lines([table("cell:1")]) != render_lines([{**table("cell:1"), "data": {TABLE_MIME: {"rows": [[2]]}}}])


def test_a_long_line_is_cut_in_the_diff_not_in_the_comparison() -> None:
    from runs.report import MAX_DIFF_LINE_CHARS, _cut

    line = "+[stdout] " + "x" * 5000
    assert _cut(line).startswith(line[:MAX_DIFF_LINE_CHARS]) and _cut(line).endswith("… (5,010 characters)")
    assert render_lines([{"output_type": "stream", "name": "stdout", "text": "x" * 5000 + "a"}]) != \
        render_lines([{"output_type": "stream", "name": "stdout", "text": "x" * 5000 + "b"}])


def test_unordered_spark_results_are_named_from_the_source() -> None:
    from runs.report import _causes

    def causes(language: str, source: str) -> list[str]:
        cell = {"id": "c", "language": language, "source": source}
        return [c["detail"] for c in _causes(cell, seeded=False, lock_changes=[], baseline={}, upstream=None)]

    assert causes("sql", "SELECT region, sum(v) FROM sales GROUP BY region") == [
        "a Spark query without ORDER BY returns rows in any order"]
    assert causes("sql", "select region from sales order by region") == []
    assert causes("python", "df.groupBy('r').count().show()") == [
        "Spark returns these rows in no set order (no orderBy or ORDER BY)"]
    assert causes("python", "df.groupBy('r').count().orderBy('r').show()") == []
    assert causes("python", "import random\nprint(random.random())") == ["the cell uses unseeded randomness"]
    assert causes("python", "print(1)") == []
