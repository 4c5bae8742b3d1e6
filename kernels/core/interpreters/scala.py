"""Scala cells: compiled by the Scala compiler PySpark ships, in the Spark driver's JVM, by position.

The compiler (an IMain) keeps every class it ever compiled, so the position rule is kept by naming,
not by the compiler's memory: each run of a cell compiles into classes of its own,

    class QuireIn_c_3 { val x: Int = <Python value>; @transient val spark = ... }  // other languages' values
    class QuireCell_c_3(val quireIn: QuireIn_c_3, val quireDep0: QuireCell_a_1) extends Serializable {
      import quireIn.{x, spark}; import quireDep0.{p}; <the cell's code> }

and a cell imports, by name, only the symbols the scope above it holds, each from the instance of the
cell that defined it last. A deleted or moved cell's class is still in the JVM but nothing imports it.
The cell's code runs when its class is constructed, on a thread of its own (so an endless loop can be
stopped); its final expression becomes `quireOut`, the cell's Out. Classes rather than objects, as in
Spark's own class-based REPL: a closure shipped to an executor carries the instances it needs instead
of re-running a cell's code in a static initialiser there.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from kernels.core.interpreters.base import (
    NO_OUT,
    Completion,
    Hover,
    Interpreter,
    InterpreterEnv,
    RunContext,
    RunResult,
    RunStatus,
    SignatureHelp,
    word_at,
)
from kernels.core.scope import OUT, Scope
from kernels.core.tracebacks import error_output, position
from kernels.core.values import Bridge, ScalaDefinition

SUPPORT_SOURCE = Path(__file__).with_name("scala_support.scala")
OUT_NAME = "quireOut"
_OUT_PREFIX = f"val {OUT_NAME} = {{"
_OUT_SUFFIX = "}"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD, _ROW = "\x1f", "\x1e"
# A Scala loop that ignores Thread.interrupt() is stopped outright after this long.
STOP_GRACE_MS = 500
_DRAIN_INTERVAL_S = 0.2
_SPARK_SESSION = "org.apache.spark.sql.SparkSession"
# A pooled kernel's warm-up (Engine.warm_up): starts the JVM with Spark's session and the compiler, then compiles
# and runs a cell through the path every cell takes (generated classes, the bridge, a value back to Python), so the
# first real cell finds the compiler's symbols loaded and its code paths compiled by the JIT. It also plans a query
# (Spark SQL's analyser, optimiser and planner loaded: the first Spark job then takes ~2.9 s rather than ~3.6-5.6 s)
# but runs none: a job would leave its number behind (the user's first job would be job 1), and shuffle files.
WARM_UP_SOURCE = (
    "val quireWarmUp = Seq(1, 2, 3).map(_ * 2).sum\n"
    'spark.range(3).selectExpr("id * 2 AS x").where("x > 0").queryExecution.executedPlan\n'
    "quireWarmUp"
)


_INTERNAL_PREFIX = re.compile(r"\bQuire\w+\.this\.|\b(?:quireDep\d+|quireIn|quire\.bridge)\.")


def _scala_type(text: str) -> str:
    """A member's type as the user wrote it, without the cell classes' own prefixes."""
    return _INTERNAL_PREFIX.sub("", text)


def _rows(text: str) -> list[list[str]]:
    return [row.split(_FIELD) for row in text.split(_ROW)] if text else []


def _safe(cell_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", cell_id)


def _line_col(code: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(code)))
    line = code.count("\n", 0, offset) + 1
    column = offset - (code.rfind("\n", 0, offset) + 1) + 1
    return line, column


@dataclass
class _CellObject:
    """What the last successful run of a cell compiled: its object and the names it defines."""

    name: str
    members: dict[str, tuple[str, str]]  # name -> (kind, type)
    instance: Any = None


@dataclass
class _Source:
    """A generated compilation unit and how to map its offsets back to the cell's code."""

    text: str
    user_start: int
    out_at: int | None  # offset in the cell's code where `val quireOut = {` was inserted
    bound: dict[str, tuple[str, str, Any]] = field(default_factory=dict)  # name -> (type, converter, value)
    holder: str = ""
    main: str = ""
    deps: list[str] = field(default_factory=list)  # cell ids whose instances the constructor takes

    def user_offset(self, offset: int) -> int:
        rel = offset - self.user_start
        if self.out_at is not None and rel > self.out_at:
            rel = max(self.out_at, rel - len(_OUT_PREFIX))
        return max(0, rel)


class _Jvm:
    """The compiler and the bridge helpers, created once per kernel in the Spark driver's JVM."""

    def __init__(self, env: InterpreterEnv) -> None:
        spark = env.spark.session
        jvm = spark._jvm
        self.jvm = jvm
        settings = jvm.scala.tools.nsc.Settings()
        args = "-usejavacp -Yrangepos -nowarn"
        if env.spark.repl_class_dir:
            args += f" -Yrepl-outdir {env.spark.repl_class_dir}"
        settings.processArgumentString(args)
        writer = jvm.java.io.StringWriter()
        reporter = jvm.scala.tools.nsc.interpreter.shell.ReplReporterImpl(settings, jvm.java.io.PrintWriter(writer))
        self.intp = jvm.scala.tools.nsc.interpreter.IMain(settings, reporter)
        # Precompiled, the bridge is already on the JVM's classpath (scala_bridge.py); else compile it here.
        self.precompiled = bool(env.spark.scala_bridge) and self._has_bridge()
        if not self.precompiled and not self.intp.compileString(SUPPORT_SOURCE.read_text(encoding="utf-8")):
            raise RuntimeError(f"the Scala bridge did not compile:\n{writer.toString()}")
        self.loader = self.intp.classLoader()
        self.values = self.module("quire.bridge.Values")
        self.runner = self.module("quire.bridge.Runner")
        self.compiler = self.runner.compilerFor(self.intp)
        self.bridge = Bridge(spark=spark, values_module=self.values)

    def _has_bridge(self) -> bool:
        from py4j.protocol import Py4JJavaError

        try:
            self.jvm.java.lang.Class.forName("quire.bridge.Values$", False, self.intp.classLoader())
        except Py4JJavaError:
            return False
        return True

    def module(self, name: str) -> Any:
        return self.jvm.java.lang.Class.forName(name + "$", True, self.loader).getField("MODULE$").get(None)

    def loaded_module(self, name: str) -> Any:
        return self.jvm.java.lang.Class.forName(name + "$", False, self.loader).getField("MODULE$").get(None)


class ScalaInterpreter(Interpreter):
    language: ClassVar[str] = "scala"
    warm_up_source: ClassVar[str] = WARM_UP_SOURCE

    def __init__(self, env: InterpreterEnv) -> None:
        self.env = env
        self._jvm: _Jvm | None = None
        self._lock = threading.Lock()
        self._objects: dict[str, _CellObject] = {}
        self._runs = itertools.count(1)

    def _ensure(self) -> _Jvm:
        with self._lock:
            if self._jvm is None:
                self._jvm = _Jvm(self.env)
            return self._jvm

    # ------------------------------------------------------------------ generating a cell's source

    def _imports(self, scope: Scope, words: set[str]) -> tuple[list[str], list[str], dict[str, Any]]:
        """Imports of Scala symbols from their cells' instances, those cells, and other languages' values."""
        imports: list[str] = []
        deps: list[str] = []
        foreign: dict[str, Any] = {}
        for name in sorted(words & scope.keys()):
            symbol = scope[name]
            record = self._objects.get(symbol.cell_id) if symbol.language == "scala" else None
            member = OUT_NAME if name == OUT else name
            if record is not None and member in record.members:
                if symbol.cell_id not in deps:
                    deps.append(symbol.cell_id)
                dep = f"quireDep{deps.index(symbol.cell_id)}"
                imports.append(f"import {dep}.{{{member} => {name}}}" if name == OUT else f"import {dep}.{name}")
            elif name != OUT or symbol.language != "scala":
                foreign[name] = symbol.value
        return imports, deps, foreign

    def _source(self, code: str, scope: Scope, statements: list[tuple[int, int, bool]], *, tag: str, help_only: bool) -> _Source:
        jvm = self._ensure()
        words = set(_IDENTIFIER.findall(code))
        imports, deps, foreign = self._imports(scope, words)
        holder, main = f"QuireIn_{tag}", f"QuireCell_{tag}"
        bound: dict[str, tuple[str, str, Any]] = {}
        lines = []
        for name, value in foreign.items():
            scala_type, converter, jvm_value = jvm.bridge.to_scala(value)
            bound[name] = (scala_type, converter, jvm_value)
            # Values that cannot travel to an executor (proxies, frames) stay behind when a closure does.
            transient = "@transient " if converter == "proxy" or "." in scala_type else ""
            if help_only:
                lines.append(f"  {transient}val {name}: {scala_type} = null.asInstanceOf[{scala_type}]")
                continue
            taken = f'quire.bridge.Values.take("{holder}.{name}")'
            expr = f"quire.bridge.Values.{converter}({taken})" if converter else taken
            lines.append(f"  {transient}val {name}: {scala_type} = {expr}.asInstanceOf[{scala_type}]")
        spark_in_scope = "spark" in scope
        if not spark_in_scope:
            lines.append(f"  @transient val spark: {_SPARK_SESSION} = {_SPARK_SESSION}.builder().getOrCreate()")
        bound_names = [*bound, *([] if spark_in_scope else ["spark"])]
        params = [f"val quireIn: {holder}"] + [
            f"val quireDep{i}: {self._objects[cell].name}" for i, cell in enumerate(deps)
        ]
        header = [
            f"class {holder} extends java.io.Serializable {{", *lines, "}",
            f"class {main}({', '.join(params)}) extends java.io.Serializable {{",
            # Encoders of case classes defined in this cell need the instance they are nested in.
            "  org.apache.spark.sql.catalyst.encoders.OuterScopes.addOuterScope(this)",
        ]
        if bound_names:
            header.append(f"  import quireIn.{{{', '.join(bound_names)}}}")
        header += [f"  {line}" for line in imports]
        if not spark_in_scope:
            header.append("  import spark.implicits._")
        header.append("  import quire.bridge.PythonObject")
        header.append("  import quire.bridge.Conveniences._")
        prefix = "\n".join(header) + "\n"
        out_at: int | None = None
        body = code
        if statements and statements[-1][2]:
            start, end, _ = statements[-1]
            out_at = start
            body = code[:start] + _OUT_PREFIX + code[start:end] + _OUT_SUFFIX + code[end:]
        return _Source(
            text=prefix + body + "\n}\n", user_start=len(prefix), out_at=out_at, bound=bound,
            holder=holder, main=main, deps=deps,
        )

    # ------------------------------------------------------------------ running

    def _errors(self, rows: list[list[str]], code: str, source: _Source | None) -> dict[str, Any]:
        positions, lines = [], []
        for severity, start, point, end, message in rows:
            if severity != "ERROR":
                continue
            offsets = [int(start), int(point), int(end)]
            if source is not None:
                offsets = [source.user_offset(o) if o >= 0 else -1 for o in offsets]
            begin = offsets[0] if offsets[0] >= 0 else 0
            line, column = _line_col(code, begin)
            end_line, end_column = _line_col(code, max(offsets[2], begin + 1))
            positions.append(position(line=line, column=column, end_line=end_line, end_column=end_column, message=message))
            lines.append(f"error: line {line}, column {column}: {message}")
        headline = positions[0]["message"].split("\n", 1)[0] if positions else "compilation failed"
        return error_output("CompileError", headline, lines or [headline], positions)

    def run(self, code: str, scope: Scope, context: RunContext) -> RunResult:
        jvm = self._ensure()
        reads = frozenset(set(_IDENTIFIER.findall(code)) & scope.keys())
        parsed = _rows(jvm.compiler.statements(code))
        if parsed and parsed[0][0] == "E":
            context.sink.error(self._errors([row[1:] for row in parsed], code, None))
            return RunResult(status=RunStatus.ERROR, reads=reads)
        statements = [(int(r[1]), int(r[2]), r[3] == "1") for r in parsed]
        tag = f"{_safe(context.cell_id)}_{next(self._runs)}"
        source = self._source(code, scope, statements, tag=tag, help_only=False)
        first_line = _line_col(code, statements[0][0])[0] if statements else 1
        context.on_statement(first_line, max(first_line, code.rstrip().count("\n") + 1))
        compiled = _rows(jvm.compiler.compile(f"<cell {context.cell_id}>", source.text))
        if compiled[0][0] != "ok":
            context.sink.error(self._errors(compiled[1:], code, source))
            return RunResult(status=RunStatus.ERROR, reads=reads)
        for name, (_, _, value) in source.bound.items():
            jvm.values.put(f"{source.holder}.{name}", value)
        failure = self._initialise(jvm, source, context)
        jvm.values.clear()
        if failure is not None:
            if jvm.runner.wasStopped():
                return RunResult(status=RunStatus.INTERRUPTED, reads=reads, interrupted=KeyboardInterrupt())
            context.sink.error(self._runtime_error(jvm, failure, source, code))
            return RunResult(status=RunStatus.ERROR, reads=reads)
        return self._collect(jvm, source, context, reads)

    def _initialise(self, jvm: _Jvm, source: _Source, context: RunContext) -> Any:
        """Construct the cell's class (run its code); its printed output streams to the cell while it runs."""
        done = threading.Event()

        def drain() -> None:
            while not done.wait(_DRAIN_INTERVAL_S):
                text = jvm.runner.drain()
                if text:
                    context.sink.write("stdout", text)

        pump = threading.Thread(target=drain, name="quire-scala-output", daemon=True)
        pump.start()
        try:
            holder = jvm.jvm.java.lang.Class.forName(source.holder, True, jvm.loader).getConstructors()[0].newInstance(
                jvm.bridge.gateway.new_array(jvm.jvm.java.lang.Object, 0)
            )
            args = jvm.bridge.gateway.new_array(jvm.jvm.java.lang.Object, 1 + len(source.deps))
            args[0] = holder
            for i, cell in enumerate(source.deps, start=1):
                args[i] = self._objects[cell].instance
            return jvm.runner.run(jvm.loader, source.main, args)
        finally:
            done.set()
            pump.join()
            text = jvm.runner.drain()
            if text:
                context.sink.write("stdout", text)

    def _runtime_error(self, jvm: _Jvm, failure: Any, source: _Source, code: str) -> dict[str, Any]:
        ename = str(failure.getClass().getName())
        message = failure.getMessage()
        evalue = str(message) if message is not None else ""
        prefix_lines = source.text.count("\n", 0, source.user_start)
        positions: list[dict[str, Any]] = []
        lines = [f"{ename}: {evalue}" if evalue else ename]
        for _cls, method, line_text in _rows(jvm.runner.frames(failure, source.main)):
            line = int(line_text) - prefix_lines
            if not 1 <= line <= code.count("\n") + 1:
                continue
            lines.append(f"    at cell line {line} ({method})")
            if not positions:
                text = code.splitlines()[line - 1] if code.splitlines() else ""
                indent = len(text) - len(text.lstrip())
                positions.append(
                    position(line=line, column=indent + 1, end_line=line, end_column=len(text) + 1,
                             message=f"{ename}: {evalue}" if evalue else ename)
                )
        return error_output(ename.rsplit(".", 1)[-1], evalue, lines, positions)

    def _collect(self, jvm: _Jvm, source: _Source, context: RunContext, reads: frozenset[str]) -> RunResult:
        members = {row[0]: (row[1], _scala_type(row[2])) for row in _rows(jvm.compiler.members(source.main))}
        module = jvm.runner.result()
        defined: dict[str, Any] = {}
        types: dict[str, str] = {}
        out: Any = NO_OUT
        for name, (kind, scala_type) in members.items():
            if kind in ("val", "var"):
                value = jvm.bridge.to_python(getattr(module, name)(), scala_type)
                if name == OUT_NAME:
                    if scala_type != "Unit":
                        out, types[OUT] = value, scala_type
                    continue
                defined[name] = value
                types[name] = scala_type
            else:
                defined[name] = ScalaDefinition(kind=kind, name=name, signature=scala_type)
                types[name] = f"{kind} {scala_type}" if kind in ("def", "object") else kind
        self._objects[context.cell_id] = _CellObject(name=source.main, members=members, instance=module)
        if out is not NO_OUT:
            context.sink.display(out, kind="execute_result")
        return RunResult(status=RunStatus.DONE, defined=defined, out=out, reads=reads, types=types)

    def interrupt(self) -> None:
        jvm = self._jvm
        if jvm is not None:
            jvm.runner.interrupt(STOP_GRACE_MS)

    # ------------------------------------------------------------------ editing help

    def _help_source(self, code: str, scope: Scope) -> _Source | None:
        if self._jvm is None and not self.env.spark.started:
            return None  # editing help never starts a JVM
        return self._source(code, scope, [], tag="Help", help_only=True)

    def complete(self, code: str, pos: int, scope: Scope) -> list[Completion]:
        source = self._help_source(code, scope)
        if source is None:
            return []
        rows = _rows(self._ensure().compiler.complete(source.text, source.user_start + pos))
        return [Completion(label=name, kind=kind, detail=_scala_type(detail)) for name, kind, detail in rows]

    def signature(self, code: str, pos: int, scope: Scope) -> list[SignatureHelp]:
        before = code[:pos]
        depth, open_at, active = 0, -1, 0
        for index in range(len(before) - 1, -1, -1):
            char = before[index]
            if char in ")]":
                depth += 1
            elif char in "([":
                if depth == 0:
                    open_at = index
                    break
                depth -= 1
            elif char == "," and depth == 0:
                active += 1
        if open_at < 0:
            return []
        match = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", before[:open_at])
        if match is None:
            return []
        name = match.group(1)
        items = self.complete(code[: match.end()], match.end(), scope)
        helps = []
        for item in items:
            if item.label != name or "(" not in item.detail:
                continue  # a class or object row; its `apply` rows carry the parameters
            params = tuple(p.strip() for p in re.findall(r"\(([^()]*)\)", item.detail)[:1][0].split(",") if p.strip()) \
                if "(" in item.detail else ()
            helps.append(SignatureHelp(label=f"{name}{item.detail}" if item.detail.startswith("(") else item.detail,
                                       params=params, active_param=min(active, len(params) - 1) if params else None))
        return helps

    def hover(self, code: str, pos: int, scope: Scope) -> Hover | None:
        span = word_at(code, pos)
        source = self._help_source(code, scope) if span is not None else None
        if span is None or source is None:
            return None
        start, end = span
        found = self._ensure().compiler.typeAt(source.text, source.user_start + start, source.user_start + end)
        if not found:
            return None
        return Hover(text=f"```scala\n{_scala_type(found)}\n```", start=start, end=end)

    def check(self, code: str, scope: Scope) -> list[dict[str, Any]]:
        source = self._help_source(code, scope)
        if source is None:
            return []
        rows = _rows(self._ensure().compiler.check(source.text))
        # Only what lies in the cell's own code: the generated lines around it are not the user's to fix.
        mine = [row for row in rows if row[0] == "ERROR" and int(row[1]) >= source.user_start]
        return list(self._errors(mine, code, source)["positions"]) if mine else []

    def forget_warm_up(self, cell_id: str) -> None:
        """The warm-up's instance, its class files in the REPL's class folder (which executors fetch classes
        from, and a kernel's user can list), and its run's number: the first real cell compiles as `…_1`."""
        self._objects.pop(cell_id, None)
        self._runs = itertools.count(1)
        folder = self.env.spark.repl_class_dir
        if folder:
            tag = _safe(cell_id)
            for path in Path(folder).iterdir():
                if path.name.startswith((f"QuireIn_{tag}_", f"QuireCell_{tag}_")):
                    path.unlink(missing_ok=True)

    def shutdown(self) -> None:
        jvm, self._jvm = self._jvm, None
        if jvm is not None:
            try:
                jvm.intp.close()
            except Exception:  # the JVM may already be gone at shutdown; nothing left to release
                pass
