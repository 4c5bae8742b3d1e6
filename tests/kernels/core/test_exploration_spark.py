"""Exploring Spark and Scala values on one real JVM: schemas, counts on demand, queries and plots run by Spark,
case classes as trees, Scala collections written the Scala way."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kernels.core.interpreters.vega import VEGALITE_MIME

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _explore(nb: Any, cell: str, name: str, op: str, **args: Any) -> dict[str, Any]:
    return nb.engine.explore(target={"cell_id": nb.cell(cell), "name": name}, op=op, args=args, order=nb.order)


def test_a_scala_dataframe_and_scala_values_in_the_inspector(spark_kernel):  # type: ignore[no-untyped-def]
    run = spark_kernel.add_and_run(
        "a",
        "case class Address(city: String, zip: Option[Int])\n"
        "case class Person(name: String, age: Int, address: Address, tags: Seq[String])\n"
        "val people = Seq(Person(\"ann\", 31, Address(\"Oslo\", Some(150)), Seq(\"a\")),\n"
        "  Person(\"bob\", 25, Address(\"Rome\", None), Seq()), Person(\"cy\", 40, Address(\"Oslo\", None), Seq(\"b\", \"c\")))\n"
        "val df = spark.createDataFrame(people)\n"
        "val ann = people.head\n"
        "val nums = List(1, 2, 3)\n",
        language="scala",
    )
    assert run.state == "done", run.outputs
    body = _explore(spark_kernel, "a", "df", "inspect")
    assert body["kind"] == "table" and body["row_count"] is None  # counting is a Spark job: on demand
    fields = {f["name"]: f for f in body["schema"]}
    assert fields["age"] == {"name": "age", "type": "int", "nullable": False}
    address = fields["address"]
    assert address["type"] == "struct" and [c["name"] for c in address["children"]] == ["city", "zip"]
    assert fields["tags"]["children"][0]["name"] == "element"
    assert _explore(spark_kernel, "a", "df", "count") == {"rows": 3}
    page = _explore(spark_kernel, "a", "df", "page", sort=[{"column": "age", "descending": True}],
                    filters=[{"column": "age", "op": ">", "value": 26}])
    assert [row[0] for row in page["rows"]] == ["cy", "ann"] and page["total_rows"] == 2
    summary = _explore(spark_kernel, "a", "df", "summary", column="age")
    assert summary["min"] == 25 and summary["max"] == 40 and summary["nulls"] == 0

    tree = _explore(spark_kernel, "a", "ann", "inspect")
    assert tree["kind"] == "tree" and tree["tree"]["type"] == "Person"
    labels = {c["label"]: c for c in tree["tree"]["children"]}
    assert labels["name"]["summary"] == "ann" and labels["age"]["summary"] == "31"
    assert [c["label"] for c in labels["address"]["children"]] == ["city", "zip"]
    nums = _explore(spark_kernel, "a", "nums", "inspect")
    assert nums["tree"]["summary"] == "List(1, 2, 3)"
    people = _explore(spark_kernel, "a", "people", "inspect")
    assert people["kind"] == "table" and people["row_count"] == 3


def test_a_plot_of_a_spark_frame_is_aggregated_by_spark(spark_kernel):  # type: ignore[no-untyped-def]
    spark_kernel.add_and_run("data", "val events = spark.range(0, 100000).selectExpr(\"id % 4 as kind\", \"id as ms\")", language="scala")
    spec = {"mark": "bar", "data": {"name": "events"},
            "encoding": {"x": {"field": "ms", "bin": {"maxbins": 5}}, "y": {"aggregate": "count"}, "color": {"field": "kind"}}}
    run = spark_kernel.add_and_run("chart", json.dumps(spec), language="vega")
    assert run.state == "done", run.outputs
    filled = run.data("display_data")[VEGALITE_MIME]
    values = filled["data"]["values"]
    assert sum(v["__count"] for v in values) == 100000 and len(values) == 5 * 4
    assert "aggregated by Spark (count of records by ms (binned), kind)" in run.stdout


def test_spark_progress_says_why_there_is_no_spark_ui_link(spark_kernel):  # type: ignore[no-untyped-def]
    from kernels.core import protocol

    run = spark_kernel.add_and_run("jobs", "spark.sparkContext.parallelize(1 to 100, 4).map(_ * 2).sum()", language="scala")
    progress = [e for e in run.events if isinstance(e, protocol.SparkProgress)]
    assert progress and progress[-1].ui_url is None
    assert "spark.ui.enabled" in (progress[-1].ui_note or "")
