"""Python cells: one top-level statement at a time in a fresh namespace folded from the cells above."""

from __future__ import annotations

import ast
import asyncio
import builtins
import inspect
import os
import sys
from types import CodeType
from typing import Any, ClassVar

from kernels.core import display as display_mod
from kernels.core import display_libraries, ipython_shell, publish
from kernels.core.interpreters import python_editing
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
)
from kernels.core.interrupts import GATE
from kernels.core.python_names import SPARK_SESSION_NAME, loaded_names
from kernels.core.scope import Scope
from kernels.core.spark import SparkUnavailable, spark_available
from kernels.core.tracebacks import exception_output, register_source, syntax_error_output

MPL_BACKEND = "module://kernels.core.mpl_backend"
_COMPILE_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
# Checking as you type compiles under a name of its own: no traceback or run ever refers to it.
CHECK_FILENAME = "<check>"


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _statement_lines(node: ast.stmt) -> tuple[int, int]:
    # A decorated definition starts at its first decorator, which is where the editor shows it.
    decorators = getattr(node, "decorator_list", None) or []
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return start, node.end_lineno or node.lineno


class _TopLevelBindings(ast.NodeVisitor):
    """Names bound at module level, which count as (re)defined even when the value is identical."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def _define(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.names.add(node.name)
        for decorator in node.decorator_list:
            self.visit(decorator)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _define  # noqa: N815

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.names.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import  # noqa: N815

    def _skip_scope(self, node: ast.AST) -> None:
        pass  # comprehension variables are local to the comprehension

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _skip_scope  # noqa: N815


def _suppressed(source_lines: list[str], node: ast.stmt) -> bool:
    """IPython's convention: a trailing `;` hides the final value."""
    line = source_lines[(node.end_lineno or node.lineno) - 1]
    rest = line[node.end_col_offset or 0 :].split("#", 1)[0]
    return rest.strip().startswith(";")


class PythonInterpreter(Interpreter):
    language: ClassVar[str] = "python"

    def __init__(self, env: InterpreterEnv) -> None:
        self.env = env
        self._loop: asyncio.AbstractEventLoop | None = None
        # Figures render without a display, and plt.show() puts them in the cell's output.
        if "matplotlib" not in sys.modules:
            os.environ["MPLBACKEND"] = MPL_BACKEND
        ipython_shell.watch_for_ipython()
        display_libraries.watch_for_libraries()

    # ------------------------------------------------------------------ running

    @staticmethod
    def _compile(tree: ast.Module, filename: str) -> list[tuple[ast.stmt, CodeType, bool]]:
        compiled: list[tuple[ast.stmt, CodeType, bool]] = []
        for index, node in enumerate(tree.body):
            if index == len(tree.body) - 1 and isinstance(node, ast.Expr):
                code: CodeType = compile(ast.Expression(body=node.value), filename, "eval", flags=_COMPILE_FLAGS)
                compiled.append((node, code, True))
            else:
                code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec", flags=_COMPILE_FLAGS)
                compiled.append((node, code, False))
        return compiled

    def _evaluate(self, code: CodeType, namespace: dict[str, Any]) -> Any:
        with GATE.user_code():
            value = eval(code, namespace)  # noqa: S307 - running the user's cell is the point
            if code.co_flags & inspect.CO_COROUTINE:
                if self._loop is None or self._loop.is_closed():
                    self._loop = asyncio.new_event_loop()
                value = self._loop.run_until_complete(value)
        return value

    def _namespace(self, scope: Scope, context: RunContext) -> dict[str, Any]:
        namespace = scope.values_dict()
        namespace["__builtins__"] = builtins
        namespace["__name__"] = "__main__"
        # One display() for every cell: it shows in whichever cell runs when it is called, so a cell
        # that keeps or rebinds the name hands nothing stale to the cells below.
        namespace.setdefault("display", publish.display)
        return namespace

    def run(self, code: str, scope: Scope, context: RunContext) -> RunResult:
        register_source(context.filename, code)
        try:
            # Compile every statement before running any: a syntax error anywhere runs nothing.
            tree = ast.parse(code, filename=context.filename)
            statements = self._compile(tree, context.filename)
        except SyntaxError as exc:
            context.sink.error(syntax_error_output(exc))
            return RunResult(status=RunStatus.ERROR)
        namespace = self._namespace(scope, context)
        if SPARK_SESSION_NAME not in namespace and (self.env.spark.started or SPARK_SESSION_NAME in loaded_names(tree)):
            self._bind_spark(namespace, context)
        start = dict(namespace)
        source_lines = code.splitlines() or [""]
        status, out = RunStatus.DONE, NO_OUT
        interrupted: BaseException | None = None
        for node, unit, is_final_expression in statements:
            context.on_statement(*_statement_lines(node))
            try:
                value = self._evaluate(unit, namespace)
            except KeyboardInterrupt as exc:
                status, interrupted = RunStatus.INTERRUPTED, exc
                self._loop = None  # an interrupted run_until_complete leaves the loop unusable
                break
            except BaseException as exc:  # noqa: BLE001 - a user error (SystemExit too) ends the cell only
                context.sink.error(exception_output(exc, filename=context.filename))
                status = RunStatus.ERROR
                break
            if is_final_expression and value is not None:
                out = value
                if not _suppressed(source_lines, node):
                    context.sink.display(value, kind="execute_result")
        for figure in display_mod.open_figures_to_show(context.sink.context):
            context.sink.display(figure)
        return RunResult(
            status=status,
            defined=self._defined(namespace, start, tree),
            out=out,
            reads=frozenset(loaded_names(tree) & scope.keys()),
            interrupted=interrupted,
        )

    def _bind_spark(self, namespace: dict[str, Any], context: RunContext) -> None:
        """`spark` is the notebook's session, started the first time a cell mentions it."""
        if not spark_available():
            return  # `spark` stays an ordinary (undefined) name
        try:
            namespace[SPARK_SESSION_NAME] = self.env.spark.session
        except SparkUnavailable as exc:
            context.sink.write("stderr", f"{exc}\n")

    @staticmethod
    def _defined(namespace: dict[str, Any], start: dict[str, Any], tree: ast.Module) -> dict[str, Any]:
        """New names, names whose value changed identity, and names the code binds at top level."""
        binder = _TopLevelBindings()
        for node in tree.body:
            binder.visit(node)
        missing = object()
        return {
            name: value
            for name, value in namespace.items()
            if not _is_dunder(name)
            and (name in binder.names or start.get(name, missing) is not value)
            and not (name == "display" and value is publish.display)  # the platform's, not the cell's
        }

    # ------------------------------------------------------------------ editing help

    @staticmethod
    def _help_namespace(scope: Scope) -> dict[str, Any]:
        namespace = scope.values_dict()
        namespace.setdefault("display", publish.display)
        return namespace

    def complete(self, code: str, pos: int, scope: Scope) -> list[Completion]:
        return python_editing.complete(code, pos, self._help_namespace(scope))

    def signature(self, code: str, pos: int, scope: Scope) -> list[SignatureHelp]:
        return python_editing.signatures(code, pos, self._help_namespace(scope))

    def hover(self, code: str, pos: int, scope: Scope) -> Hover | None:
        return python_editing.hover(code, pos, self._help_namespace(scope))

    def check(self, code: str, scope: Scope) -> list[dict[str, Any]]:
        # The run's own compile steps, so what is underlined is exactly what a run would refuse.
        try:
            self._compile(ast.parse(code, filename=CHECK_FILENAME), CHECK_FILENAME)
        except SyntaxError as exc:
            return list(syntax_error_output(exc)["positions"])
        return []

    def shutdown(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()
