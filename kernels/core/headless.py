"""Headless runs: execute a notebook top to bottom and write the results into an .ipynb.

    python -m kernels.core.headless IN.ipynb [-o OUT.ipynb] [-p name=value ...]

Without -o the results go to IN.out.ipynb beside the input. Parameters are injected
Papermill-style as a new cell after the cell tagged `parameters` (else before the first cell);
a value is a Python literal when it parses as one, else a string. The run stops at the first
failing cell; the exit code is 0 when every cell ran, 1 when a cell failed, 2 for bad input
(3 is `manage.py run_notebook`'s: the notebook's environment failed to build).

This module runs in whatever interpreter starts it and builds nothing: `manage.py run_notebook`
builds the notebook's environments (its `dependencies` and `repositories`) and runs this module
with the environment's python, passing resolved jars as `--spark-conf`.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernels.core import protocol
from kernels.core.engine import Engine
from kernels.core.errors import HeadlessError, NotebookFormatError, ParameterError
from kernels.core.notebook_file import (
    Cell,
    NotebookDocument,
    cell_json,
    nbformat_outputs,
    notebook_json,
    parse_notebook,
)
from kernels.core.output_list import folded
from kernels.core.streams import DEFAULT_OUTPUT_LIMIT

EXIT_OK, EXIT_CELL_FAILED, EXIT_BAD_INPUT, EXIT_ENVIRONMENT = 0, 1, 2, 3
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


@dataclass(frozen=True)
class CellFailure:
    index: int
    cell_id: str
    ename: str
    evalue: str

    def describe(self) -> str:
        return f"cell {self.index} ({self.cell_id}) failed: {self.ename}: {self.evalue}"


@dataclass(frozen=True)
class RunReport:
    notebook: dict[str, Any]
    failure: CellFailure | None


def parse_parameters(items: Sequence[str]) -> dict[str, Any]:
    """`name=value` strings as a dict; values are Python literals where they parse as one."""
    parameters: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ParameterError(f"parameter {item!r} is not name=value with a Python identifier as name")
        try:
            parameters[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parameters[name] = text
    return parameters


def inject_parameters(document: NotebookDocument, parameters: Mapping[str, Any]) -> None:
    """Insert a python cell assigning the parameters after the `parameters` cell (or first)."""
    if not parameters:
        return
    source = "# Parameters\n" + "".join(f"{name} = {value!r}\n" for name, value in parameters.items())
    raw: dict[str, Any] = {
        "cell_type": "code",
        "metadata": {"tags": [INJECTED_TAG], "language": "python"},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }
    cell = Cell(id=INJECTED_TAG, language="python", source=source, raw=raw)
    tagged = next((i for i, c in enumerate(document.cells) if PARAMETERS_TAG in c.tags), None)
    document.cells.insert(0 if tagged is None else tagged + 1, cell)


@contextlib.contextmanager
def notebook_env(config: Mapping[str, Any]) -> Iterator[None]:
    """The notebook's `config.env` variables for the duration of the run."""
    env = config.get("env") or {}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update({str(k): str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_notebook(
    document: NotebookDocument, *, output_limit: int = DEFAULT_OUTPUT_LIMIT, config: Mapping[str, Any] | None = None
) -> RunReport:
    """Run every cell in order on a fresh engine (with `config`, else the notebook's); stop at the first failure
    (later cells kept as they were)."""
    config = document.config if config is None else config
    engine = Engine(output_limit=output_limit, config=config)
    order = [cell.id for cell in document.cells]
    cells: list[dict[str, Any]] = []
    failure: CellFailure | None = None
    execution_count = 0
    with notebook_env(config):
        for index, cell in enumerate(document.cells, start=1):
            if failure is not None or cell.language == "text" or cell.raw.get("cell_type") != "code":
                cells.append(cell_json(cell, outputs=None, execution_count=None))
                continue
            execution_count += 1
            events: list[protocol.Message] = []
            outcome = engine.execute(
                exec_id=f"headless-{index}", cell_id=cell.id, language=cell.language,
                source=cell.source, order=order, emit=events.append,
            )
            outputs = folded([e.output for e in events if isinstance(e, protocol.Output)])
            cells.append(cell_json(cell, outputs=nbformat_outputs(outputs, execution_count), execution_count=execution_count))
            if outcome.state != "done":
                error = next((o for o in outputs if o.get("output_type") == "error"), {})
                failure = CellFailure(
                    index=index, cell_id=cell.id,
                    ename=error.get("ename", outcome.state), evalue=error.get("evalue", ""),
                )
    engine.shutdown()
    return RunReport(notebook=notebook_json(document, cells), failure=failure)


def default_output_path(input_path: Path) -> Path:
    return input_path.with_name(input_path.stem + ".out.ipynb")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_notebook", description="Run a notebook top to bottom.")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The runner's options; the Django management command adds the same ones."""
    parser.add_argument("input", help="notebook to run (.ipynb, Jupyter or Polynote flavour)")
    parser.add_argument("-o", "--output", default=None, help="where to write the results (default IN.out.ipynb)")
    parser.add_argument(
        "-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
        help="parameter injected after the cell tagged 'parameters' (repeatable)",
    )
    parser.add_argument("--output-limit", type=int, default=DEFAULT_OUTPUT_LIMIT, metavar="BYTES",
                        help="per-cell output cap")
    parser.add_argument(
        "--spark-conf", action="append", default=[], metavar="NAME=VALUE",
        help="Spark setting that replaces the notebook's own of that name (repeatable; the resolved jars)",
    )


def spark_conf_items(items: Sequence[str]) -> dict[str, str]:
    """`--spark-conf` values as a dict."""
    conf: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"--spark-conf {item!r} is not name=value")
        conf[name.strip()] = value
    return conf


def load(input_path: str) -> NotebookDocument:
    """The notebook at `input_path`, parsed; HeadlessError when it cannot be read or is not a notebook."""
    path = Path(input_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HeadlessError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return parse_notebook(text, name=str(path))
    except NotebookFormatError as exc:
        raise HeadlessError(str(exc)) from None


def execute(
    input_path: str, *, output: str | None, parameters: Sequence[str], output_limit: int = DEFAULT_OUTPUT_LIMIT,
    spark_conf: Sequence[str] = (),
) -> tuple[RunReport, Path]:
    """Read, run and write; HeadlessError for bad input, the report for the caller to judge."""
    path = Path(input_path)
    document = load(input_path)
    try:
        inject_parameters(document, parse_parameters(parameters))
        extra = spark_conf_items(spark_conf)
    except ParameterError as exc:
        raise HeadlessError(str(exc)) from None
    # The engine gets the jars; the results keep the notebook's own configuration.
    config = {**document.config, "sparkConfig": {**(document.config.get("sparkConfig") or {}), **extra}} if extra \
        else document.config
    report = run_notebook(document, output_limit=output_limit, config=config)
    target = Path(output) if output else default_output_path(path)
    try:
        target.write_text(json.dumps(report.notebook, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    except OSError as exc:
        raise HeadlessError(f"cannot write {target}: {exc.strerror or exc}") from None
    return report, target


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        report, target = execute(
            args.input, output=args.output, parameters=args.parameter, output_limit=args.output_limit,
            spark_conf=args.spark_conf,
        )
    except HeadlessError as exc:
        print(f"run_notebook: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if report.failure is not None:
        print(f"run_notebook: {report.failure.describe()} (results in {target})", file=sys.stderr)
        return EXIT_CELL_FAILED
    print(f"run_notebook: ran {args.input}, results in {target}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
