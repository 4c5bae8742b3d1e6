"""Vega cells: named data filled from scope, large tables aggregated or sampled with a note."""

from __future__ import annotations

import json

import pytest

from kernels.core.interpreters.vega import VEGA_MIME, VEGALITE_MIME


@pytest.fixture
def chart_notebook(notebook):
    """A notebook with a 3-row `points` frame and a 20,000-row `events` frame."""
    notebook.add_and_run(
        "data",
        "import pandas as pd, numpy as np\n"
        "points = pd.DataFrame({'x': [1, 2, 3], 'y': [4, 5, 6]})\n"
        "events = pd.DataFrame({'kind': np.arange(20000) % 3, 'ms': np.arange(20000.0)})",
    )
    return notebook


def _chart(notebook, spec, cell_id="chart"):
    return notebook.add_and_run(cell_id, json.dumps(spec), language="vega")


def test_vegalite_named_data_is_filled_from_scope(chart_notebook):
    run = _chart(chart_notebook, {"mark": "point", "data": {"name": "points"}, "encoding": {"x": {"field": "x"}}})
    spec = run.data("display_data")[VEGALITE_MIME]
    assert spec["data"] == {"values": [{"x": 1, "y": 4}, {"x": 2, "y": 5}, {"x": 3, "y": 6}]}
    assert run.result.reads == ("points",)
    assert run.stdout == ""


def test_layers_are_filled_too(chart_notebook):
    spec = {"layer": [{"mark": "line", "data": {"name": "points"}}, {"mark": "rule", "data": {"values": [{"a": 1}]}}]}
    filled = _chart(chart_notebook, spec).data("display_data")[VEGALITE_MIME]
    assert len(filled["layer"][0]["data"]["values"]) == 3
    assert filled["layer"][1]["data"] == {"values": [{"a": 1}]}


def test_vega_spec_data_entries_are_filled(chart_notebook):
    spec = {"$schema": "https://vega.github.io/schema/vega/v5.json", "data": [{"name": "points"}], "marks": []}
    filled = _chart(chart_notebook, spec).data("display_data")[VEGA_MIME]
    assert filled["data"][0]["values"][2] == {"x": 3, "y": 6}


def test_large_table_is_aggregated_on_the_server(chart_notebook):
    spec = {
        "mark": "bar",
        "data": {"name": "events"},
        "encoding": {
            "x": {"field": "kind", "type": "nominal"},
            "y": {"aggregate": "mean", "field": "ms", "type": "quantitative"},
        },
    }
    run = _chart(chart_notebook, spec)
    filled = run.data("display_data")[VEGALITE_MIME]
    assert [row["kind"] for row in filled["data"]["values"]] == [0, 1, 2]
    assert filled["encoding"]["y"] == {"field": "mean_ms", "type": "quantitative", "title": "Mean of ms"}
    assert "events has 20,000 rows; aggregated on the server (mean of ms by kind) to 3" in run.stdout


def test_large_table_without_aggregation_is_sampled_with_a_note(chart_notebook):
    spec = {"mark": "point", "data": {"name": "events"}, "encoding": {"x": {"field": "ms"}}}
    run = _chart(chart_notebook, spec)
    values = run.data("display_data")[VEGALITE_MIME]["data"]["values"]
    assert len(values) == 5000
    assert "random sample of 5,000" in run.stdout


def test_unknown_data_name_is_a_clear_error(chart_notebook):
    run = _chart(chart_notebook, {"mark": "bar", "data": {"name": "missing"}})
    assert run.state == "error"
    assert "'missing' is not a symbol in scope" in run.error["evalue"]


def test_invalid_json_has_a_position(chart_notebook):
    run = chart_notebook.add_and_run("chart", '{"mark": "bar",\n  "data": }', language="vega")
    assert run.error["positions"][0]["line"] == 2


def test_a_histogram_of_a_large_table_is_binned_on_the_server(chart_notebook):
    spec = {
        "mark": "bar", "data": {"name": "events"},
        "encoding": {"x": {"field": "ms", "bin": {"maxbins": 10}, "type": "quantitative"}, "y": {"aggregate": "count"}},
    }
    run = _chart(chart_notebook, spec)
    filled = run.data("display_data")[VEGALITE_MIME]
    values = filled["data"]["values"]
    assert len(values) == 10 and sum(row["__count"] for row in values) == 20000
    assert values[0]["bin_ms"] == 0 and values[0]["bin_ms_end"] == 2000
    assert filled["encoding"]["x"]["bin"] == {"binned": True, "step": 2000}
    assert filled["encoding"]["x2"] == {"field": "bin_ms_end"}
    assert "aggregated on the server (count of records by ms (binned))" in run.stdout


def test_quantiles_and_a_heatmap_are_aggregated_on_the_server(chart_notebook):
    spec = {
        "mark": "point", "data": {"name": "events"},
        "encoding": {"x": {"field": "kind", "type": "ordinal"}, "y": {"aggregate": "median", "field": "ms"},
                     "size": {"aggregate": "q3", "field": "ms"}},
    }
    values = _chart(chart_notebook, spec).data("display_data")[VEGALITE_MIME]["data"]["values"]
    assert [row["kind"] for row in values] == [0, 1, 2]
    assert values[0]["median_ms"] == pytest.approx(9999, abs=2) and values[0]["q3_ms"] == pytest.approx(14998.5, abs=3)
    heat = {
        "mark": "rect", "data": {"name": "events"},
        "encoding": {"x": {"field": "ms", "bin": True}, "y": {"field": "kind", "bin": {"maxbins": 3}},
                     "color": {"aggregate": "count"}},
    }
    filled = _chart(chart_notebook, heat, cell_id="heat").data("display_data")[VEGALITE_MIME]
    assert sum(row["__count"] for row in filled["data"]["values"]) == 20000
    assert filled["encoding"]["y2"] == {"field": "bin_kind_end"} and len(filled["data"]["values"]) <= 10 * 3


def test_times_are_binned_by_their_time_unit_on_the_server(chart_notebook):
    chart_notebook.add_and_run(
        "times", "stamps = pd.DataFrame({'at': pd.date_range('2024-01-01', periods=20000, freq='37min'), 'v': 1.0})"
    )
    spec = {
        "mark": "line", "data": {"name": "stamps"},
        "encoding": {"x": {"field": "at", "timeUnit": "yearmonthdate", "type": "temporal"},
                     "y": {"aggregate": "sum", "field": "v"}},
    }
    run = _chart(chart_notebook, spec)
    filled = run.data("display_data")[VEGALITE_MIME]
    values = filled["data"]["values"]
    assert len(values) == 514 and sum(row["sum_v"] for row in values) == 20000
    assert values[0]["yearmonthdate_at"].startswith("2024-01-01T00:00:00")
    assert filled["encoding"]["x"] == {"field": "yearmonthdate_at", "timeUnit": "yearmonthdate", "type": "temporal", "title": "at"}
    assert "aggregated on the server (sum of v by at (yearmonthdate))" in run.stdout
