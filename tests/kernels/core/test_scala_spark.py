"""Scala cells and Spark on one real JVM: position rules, values both ways, errors, progress and interrupts."""

from __future__ import annotations

import threading
import time

import pytest

from kernels.core import protocol
from kernels.core.values import JvmObject, JvmSequence

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _scala(nb, cell_id, source):
    return nb.add_and_run(cell_id, source, language="scala")


def _out(run):
    return run.data()["text/plain"]


# ---------------------------------------------------------------- Scala cells and the position rule


def test_scala_cells_share_values_classes_and_objects_downwards(spark_kernel):
    first = _scala(spark_kernel, "a", 'case class Point(x: Int, y: Int)\nobject Geo { def norm(p: Point) = p.x * p.x + p.y * p.y }\nval origin = Point(3, 4)\nprintln("defined")')
    assert first.state == "done", first.outputs
    assert first.stdout == "defined\n"
    assert first.symbols["origin"]["type"] == "Point" and first.symbols["origin"]["language"] == "scala"
    assert first.symbols["Point"]["type"] == "case class"
    second = _scala(spark_kernel, "b", "val far = origin.copy(x = 30)\nGeo.norm(far)")
    assert second.state == "done", second.outputs
    assert _out(second) == "916"
    assert second.symbols["Out"]["type"] == "Int"


def test_a_scala_cell_sees_only_the_cells_above(spark_kernel):
    _scala(spark_kernel, "top", "val n = 1")
    spark_kernel.add("reader", "n + 1", language="scala")
    _scala(spark_kernel, "bottom", "val later = 5")
    assert _out(spark_kernel.run("reader")) == "2"
    below = spark_kernel.run("reader", "later")
    assert below.state == "error"
    assert "not found: value later" in below.error["evalue"]
    spark_kernel.move("bottom", 0)
    assert _out(spark_kernel.run("reader", "later + n")) == "6"


def test_a_deleted_scala_cells_symbols_vanish(spark_kernel):
    _scala(spark_kernel, "gone", "val secret = 42\nclass Hidden")
    spark_kernel.add("after", "secret", language="scala")
    assert _out(spark_kernel.run("after")) == "42"
    spark_kernel.delete("gone")
    rerun = spark_kernel.run("after")
    assert rerun.state == "error" and "not found: value secret" in rerun.error["evalue"]
    assert _scala(spark_kernel, "cls", "new Hidden").state == "error"


def test_rerunning_a_cell_redefines_its_names(spark_kernel):
    _scala(spark_kernel, "def", "val v = 1")
    spark_kernel.add("use", "v * 10", language="scala")
    assert _out(spark_kernel.run("use")) == "10"
    spark_kernel.run("def", 'val v = "text"')
    assert _out(spark_kernel.run("use", "v.length")) == "4"


# ---------------------------------------------------------------- errors


def test_compile_errors_carry_the_cells_positions(spark_kernel):
    run = _scala(spark_kernel, "bad", 'val ok = 1\nval s: String = 42\nundefinedThing + ok')
    assert run.state == "error"
    error = run.error
    assert error["ename"] == "CompileError"
    spots = {(p["line"], p["column"]) for p in error["positions"]}
    assert (2, 17) in spots  # the 42
    assert (3, 1) in spots  # undefinedThing
    assert "type mismatch" in error["positions"][0]["message"]


def test_syntax_errors_are_positioned_too(spark_kernel):
    run = _scala(spark_kernel, "syntax", "val x = (1 + \nval y = 2")
    assert run.state == "error"
    assert run.error["positions"] and run.error["positions"][0]["line"] in (1, 2)


def test_runtime_exceptions_are_trimmed_to_the_cells_lines(spark_kernel):
    run = _scala(spark_kernel, "boom", "def half(n: Int) = 10 / n\nval a = 1\nhalf(a - 1)")
    assert run.state == "error"
    error = run.error
    assert error["ename"] == "ArithmeticException" and error["evalue"] == "/ by zero"
    assert error["positions"][0]["line"] == 1
    assert all("Quire" not in line and "java.base" not in line for line in error["traceback"])
    assert "at cell line 3" in "\n".join(error["traceback"])


# ---------------------------------------------------------------- Scala -> Python


def test_scala_values_reach_python_as_python_values(spark_kernel):
    _scala(
        spark_kernel, "vals",
        'val i = 7\nval l = 1L << 40\nval d = 2.5\nval s = "hé"\nval b = true\n'
        "val arr = Array(1, 2, 3, 4)\nval xs = List(\"a\", \"b\", \"c\")\nval m = Map(\"k\" -> 1)\n"
        "case class Person(name: String, age: Int) { def greet(other: String) = s\"hi $other, I am $name\" }\n"
        'val ada = Person("Ada", 36)',
    )
    run = spark_kernel.add_and_run(
        "py",
        "r = (i, l, d, s, b, list(arr), arr[1:3], arr[-1], len(xs), [x.upper() for x in xs], m,\n"
        "     ada.name(), ada.age() + 1, ada.greet('Bob'))\nr",
    )
    assert run.state == "done", run.outputs
    assert _out(run) == (
        "(7, 1099511627776, 2.5, 'hé', True, [1, 2, 3, 4], [2, 3], 4, 3, ['A', 'B', 'C'], {'k': 1}, "
        "'Ada', 37, 'hi Bob, I am Ada')"
    )
    namespace = spark_kernel.engine.state.scope_for(spark_kernel.cell("py"), spark_kernel.order)
    assert isinstance(namespace["arr"].value, JvmSequence)
    assert isinstance(namespace["ada"].value, JvmObject)
    symbols = _scala(spark_kernel, "types", "val q = xs").symbols
    assert symbols["q"]["type"] == "List[String]"


def test_a_scala_dataframe_is_a_pyspark_dataframe_without_copying(spark_kernel):
    _scala(spark_kernel, "sdf", 'val people = Seq(("ann", 3), ("bob", 5)).toDF("name", "n")')
    run = spark_kernel.add_and_run(
        "pdf",
        "from pyspark.sql import DataFrame\n"
        "same_plan = people._jdf.equals(people._jdf)\n"
        "(isinstance(people, DataFrame), people.toPandas()['n'].sum(), people.count())",
    )
    assert _out(run) == "(True, np.int64(8), 2)" or _out(run) == "(True, 8, 2)"


# ---------------------------------------------------------------- Python -> Scala


def test_python_values_reach_scala_as_scala_values(spark_kernel):
    spark_kernel.add_and_run(
        "py", "n = 41\nbig = 2**40\nratio = 0.5\nname = 'quire'\nflag = True\n"
        "nums = [1, 2, 3]\nwords = ('x', 'y')\nmixed = [1, 'a']\nprices = {'a': 1.5, 'b': 2.0}",
    )
    run = _scala(
        spark_kernel, "sc",
        "val r: (Int, Long, Double, String, Boolean, Int, String, Int, Double) =\n"
        "  (n + 1, big * 2, ratio * 2, name.toUpperCase, !flag, nums.sum, words.mkString, mixed.size, prices(\"a\"))\nr",
    )
    assert run.state == "done", run.outputs
    assert _out(run) == "(42,2199023255552,1.0,QUIRE,false,6,xy,2,1.5)"


def test_python_objects_reach_scala_through_a_dynamic_proxy(spark_kernel):
    spark_kernel.add_and_run(
        "py",
        "class Counter:\n"
        "    def __init__(self):\n        self.count = 3\n        self.label = 'c'\n"
        "    def add(self, n, times=1):\n        self.count += n * times\n        return self.count\n"
        "    def items(self):\n        return [1, 2]\n"
        "counter = Counter()\nletters = ['a', 'b']\ntable = {'x': 1}",
    )
    run = _scala(
        spark_kernel, "sc",
        "val a = counter.add(2)\nval b = counter.add(n = 1, times = 10).as[Int]\nval label = counter.label.as[String]\n"
        "val lst = counter.items().asScalaList\n"
        "s\"$a $b $label ${lst.size} ${counter.count}\"",
    )
    assert run.state == "done", run.outputs
    assert _out(run) == "'5 15 c 2 15'"
    assert run.symbols["a"]["type"] == "PythonObject"
    back = spark_kernel.add_and_run("back", "counter.count")
    assert _out(back) == "15"


def test_pyspark_and_pandas_frames_reach_scala_as_datasets(spark_kernel):
    spark_kernel.add_and_run(
        "py", "import pandas as pd\nlocal = pd.DataFrame({'k': ['a', 'b', 'a'], 'v': [1, 2, 3]})\n"
        "remote = spark.range(10)",
    )
    run = _scala(spark_kernel, "sc", 'local.groupBy("k").sum("v").count() + remote.count()')
    assert run.state == "done", run.outputs
    assert _out(run) == "12"


# ---------------------------------------------------------------- Spark


def test_spark_is_bound_in_python_and_scala_and_sql_runs_on_spark(spark_kernel):
    spark_kernel.add_and_run("py", "frame = spark.createDataFrame([(1, 'a'), (2, 'b'), (3, 'b')], ['n', 'g'])")
    run = spark_kernel.add_and_run("sql", "SELECT g, sum(n) AS total FROM frame GROUP BY g ORDER BY g", language="sql")
    assert run.state == "done", run.outputs
    table = run.data()["application/vnd.quire.table+json"]
    assert table["rows"] == [["a", 1], ["b", 5]]
    assert run.symbols["Out"]["type"] == "DataFrame"
    scala = _scala(spark_kernel, "sc", "spark.version.nonEmpty && Out.count() == 2")
    assert _out(scala) == "True"


def test_spark_jobs_report_progress(spark_kernel):
    run = _scala(spark_kernel, "jobs", "spark.sparkContext.parallelize(1 to 100, 4).map(_ * 2).sum()")
    assert run.state == "done", run.outputs
    progress = [e for e in run.events if isinstance(e, protocol.SparkProgress)]
    assert progress, "no spark_progress event"
    last = progress[-1]
    assert last.cell_id == spark_kernel.cell("jobs")
    stage = last.jobs[-1]["stages"][-1]
    assert stage["total"] == 4 and stage["done"] == 4
    statuses = [e.state for e in run.events if isinstance(e, protocol.CellStatus)]
    assert statuses == ["running", "done"]


def _interrupt_when(spark_kernel, cell_id, source, started):
    """Run a Scala cell and interrupt it once `started(events)` holds; returns the run and its stop time."""
    events: list[protocol.Message] = []
    engine = spark_kernel.engine
    spark_kernel.add(cell_id, source, language="scala")
    stopped_at: list[float] = []

    def interrupter():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not started(events):
            time.sleep(0.05)
        stopped_at.append(time.monotonic())
        engine.interrupt()

    thread = threading.Thread(target=interrupter)
    thread.start()
    engine.execute(
        exec_id=f"int-{cell_id}", cell_id=spark_kernel.cell(cell_id), language="scala",
        source=source, order=list(spark_kernel.order), emit=events.append,
    )
    finished = time.monotonic()
    thread.join()
    states = [e.state for e in events if isinstance(e, protocol.CellStatus)]
    return events, states, finished - stopped_at[0]


def test_interrupt_stops_an_endless_scala_loop_and_the_kernel_stays_usable(spark_kernel):
    events, states, took = _interrupt_when(
        spark_kernel, "loop", 'println("looping")\nvar i = 0L\nwhile (true) { i += 1 }',
        lambda ev: any(isinstance(e, protocol.Output) and "looping" in str(e.output) for e in ev),
    )
    assert states[-1] == "interrupted"
    assert took < 5
    assert _out(_scala(spark_kernel, "after", "1 + 1")) == "2"


def test_interrupt_cancels_a_long_spark_job(spark_kernel):
    events, states, took = _interrupt_when(
        spark_kernel, "slow", "spark.sparkContext.parallelize(1 to 400, 2).map { x => Thread.sleep(100); x }.count()",
        lambda ev: any(isinstance(e, protocol.SparkProgress) for e in ev),
    )
    assert states[-1] == "interrupted"
    assert took < 5
    sc = spark_kernel.engine.spark.session.sparkContext
    deadline = time.monotonic() + 10
    while sc.statusTracker().getActiveJobsIds() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sc.statusTracker().getActiveJobsIds() == []
    assert _out(_scala(spark_kernel, "after", "spark.range(3).count()")) == "3"


# ---------------------------------------------------------------- editing help


def test_scala_completions_and_signatures_come_from_the_compiler(spark_kernel):
    _scala(spark_kernel, "warm", "val ready = 1")
    spark_kernel.add("edit", "", language="scala")
    engine = spark_kernel.engine
    source = 'val word = "quire"\nword.toUpp'
    items = engine.complete(
        cell_id=spark_kernel.cell("edit"), language="scala", source=source, pos=len(source), order=spark_kernel.order,
    )
    assert "toUpperCase" in [i.label for i in items.items]
    source = "Math.floorMod("
    sigs = engine.signature(
        cell_id=spark_kernel.cell("edit"), language="scala", source=source, pos=len(source), order=spark_kernel.order,
    )
    assert sigs and len(sigs[0].params) == 2


def test_scala_completion_and_signatures_see_the_notebooks_cells(spark_kernel):
    _scala(spark_kernel, "people", 'case class Person(name: String, age: Int)\nval alice = Person("Alice", 30)')
    spark_kernel.add_and_run("py", "shelf = [1, 2, 3]\nlabel = 'tea'")
    spark_kernel.add("edit", "", language="scala")
    engine = spark_kernel.engine

    def complete(source):
        found = engine.complete(
            cell_id=spark_kernel.cell("edit"), language="scala", source=source, pos=len(source), order=spark_kernel.order,
        )
        return {i.label: i for i in found.items}

    assert "name" in complete("alice.na")
    assert "toUpperCase" in complete("label.toUpp")  # a Python str, completed as the Scala String it bridges to
    assert "sum" in complete("shelf.su")
    source = "Person("
    sigs = engine.signature(
        cell_id=spark_kernel.cell("edit"), language="scala", source=source, pos=len(source), order=spark_kernel.order,
    )
    assert sigs and sigs[0].params == ("name: String", "age: Int"), sigs
    source = "alice.name.length"
    hover = engine.hover(
        cell_id=spark_kernel.cell("edit"), language="scala", source=source, pos=8, order=spark_kernel.order,
    )
    assert hover is not None and "name: String" in hover.text and (hover.start, hover.end) == (6, 10), hover
    [error] = engine.check(
        cell_id=spark_kernel.cell("edit"), language="scala", source="val ok = 1\nval s: String = alice.age",
        order=spark_kernel.order,
    )
    assert (error["line"], error["column"]) == (2, 17) and "type mismatch" in error["message"], error
    assert engine.check(
        cell_id=spark_kernel.cell("edit"), language="scala", source="val n = alice.age + shelf.sum", order=spark_kernel.order,
    ) == []


def test_python_completion_sees_scala_values_by_their_bridged_types(spark_kernel):
    """The reverse of the above: a Python cell below Scala cells completes their values as Python sees them."""
    _scala(spark_kernel, "shapes", 'case class Point(x: Int, label: String)\nval origin = Point(0, "o")\n'
           "val primes = List(2, 3, 5)")
    spark_kernel.add("edit-py", "")
    engine = spark_kernel.engine

    def complete(source):
        found = engine.complete(
            cell_id=spark_kernel.cell("edit-py"), language="python", source=source, pos=len(source),
            order=spark_kernel.order,
        )
        return [i.label for i in found.items]

    assert "label" in complete("origin.la")
    assert "length" in complete("primes.len")  # the JVM sequence's own methods, as a Python cell may call them
    assert "primes" in complete("pri")


# ---------------------------------------------------------------- the precompiled bridge


@pytest.fixture(scope="module")
def bridge_cache(tmp_path_factory: pytest.TempPathFactory):
    """A writable cache of precompiled bridges, built the way a kernel host builds it: in the background."""
    from kernels.core import scala_bridge
    from kernels.core.spark import spark_available

    if not spark_available():
        pytest.skip("Spark needs Java and pyspark")
    root = tmp_path_factory.mktemp("scala-bridge")
    assert scala_bridge.published(root) is None
    assert scala_bridge.build_in_background(root)
    deadline = time.monotonic() + 300  # the Scala compiler's cold start on a busy 2-core machine
    while scala_bridge.published(root) is None and time.monotonic() < deadline:
        assert not scala_bridge.build_in_background(root)  # one build at a time
        time.sleep(0.5)
    jar = scala_bridge.published(root)
    assert jar is not None and jar.parent.parent == root
    assert not [p for p in root.iterdir() if ".build-" in p.name]  # nothing half-built left beside it
    return root


def test_a_kernel_uses_the_precompiled_bridge_instead_of_compiling_it(bridge_cache):
    import os

    from kernels.core import scala_bridge
    from kernels.core.client import spawn_local_kernel

    kernel = spawn_local_kernel(env={**os.environ, scala_bridge.ENV_VAR: str(bridge_cache)})
    try:
        order = ["py", "where", "use"]
        python = "class Shop:\n    def price(self, item):\n        return {'tea': 3}[item]\nshop = Shop()\nspark"
        assert kernel.execute(python, cell_id="py", order=order, timeout=180)[-1].state == "done"
        events = kernel.execute(
            "quire.bridge.Values.getClass.getProtectionDomain.getCodeSource.getLocation.getPath",
            cell_id="where", language="scala", order=order, timeout=180,
        )
        outputs = [e.output for e in events if isinstance(e, protocol.Output)]
        assert events[-1].state == "done", outputs
        assert outputs[-1]["data"]["text/plain"] == repr(str(scala_bridge.published(bridge_cache)))
        # Python values (a proxy class of the bridge) and Spark work as with a bridge compiled in the kernel.
        events = kernel.execute(
            'val tea = shop.price("tea").as[Int]\nspark.range(4).map(_ * tea).reduce(_ + _)',
            cell_id="use", language="scala", order=order, timeout=180,
        )
        outputs = [e.output for e in events if isinstance(e, protocol.Output)]
        assert events[-1].state == "done", outputs
        assert outputs[-1]["data"]["text/plain"] == "18"
    finally:
        kernel.close(timeout=30)


def test_a_changed_bridge_source_or_spark_gets_its_own_cache_entry(bridge_cache, monkeypatch, tmp_path):
    from kernels.core import scala_bridge

    key = scala_bridge.bridge_key()
    edited = tmp_path / "scala_support.scala"
    edited.write_text(scala_bridge.SOURCE.read_text() + "\n// changed\n")
    monkeypatch.setattr(scala_bridge, "SOURCE", edited)
    assert scala_bridge.bridge_key() != key
    assert scala_bridge.published(bridge_cache) is None  # so this kernel would compile the source itself


def test_the_class_data_archive_builds_in_the_background_one_build_at_a_time(bridge_cache):
    # Last in this file: the archive it publishes sits beside the bridge the tests above share.
    from kernels.core import jvm_archive, scala_bridge

    jar = scala_bridge.published(bridge_cache)
    assert jar is not None
    target = jvm_archive.archive_path(jar)
    assert target is not None and not target.exists()
    killed = bridge_cache / f"{jvm_archive.WORK_PREFIX}killed"  # a build's work folder, its worker stopped mid-build
    killed.mkdir()
    (killed / "kernel.jsa").write_bytes(b"half")
    assert jvm_archive.build_in_background(bridge_cache)
    deadline = time.monotonic() + 300
    while not target.is_file() and time.monotonic() < deadline:
        assert not jvm_archive.build_in_background(bridge_cache)  # one build at a time
        time.sleep(0.5)
    assert target.is_file() and target.stat().st_size > 0
    assert not jvm_archive.build_in_background(bridge_cache)  # published: nothing to build
    assert not list(bridge_cache.glob(f"{jvm_archive.WORK_PREFIX}*"))  # the killed build's folder is gone too
