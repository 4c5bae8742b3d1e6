"""Headless runs: execute a notebook top to bottom and write the results into an .ipynb.

    python -m kernels.core.headless IN.ipynb [-o OUT.ipynb] [-p name=value ...]

Without -o the results go to IN.out.ipynb beside the input; `-o -` writes them to stdout (everything
the cells and their child processes write to stdout then goes to stderr). Parameters are injected
Papermill-style as a new cell after the cell tagged `parameters` (else before the first cell, with a
warning), replacing any cell an earlier run injected; a value is a Python literal when it parses as
one, else a string. The run stops at the first failing cell, except a cell tagged `raises-exception`;
each cell's progress and time go to stderr, and its start and end to `metadata.execution`. The exit
code is 0 when every cell ran, 1 when a cell failed, 2 for bad input (3 is `manage.py run_notebook`'s:
the notebook's environment failed to build).

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
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
RAISES_TAG = "raises-exception"
STDOUT = "-"

Progress = Callable[[str], None]


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


def inject_parameters(document: NotebookDocument, parameters: Mapping[str, Any], *,
                      warn: Progress | None = None) -> None:
    """Insert a python cell assigning the parameters after the `parameters` cell (or first), in place of any
    cell an earlier run injected (a re-run of a run's results must not run both, nor repeat a cell id)."""
    if not parameters:
        return
    document.cells[:] = [c for c in document.cells if INJECTED_TAG not in c.tags]
    source = "# Parameters\n" + "".join(f"{name} = {value!r}\n" for name, value in parameters.items())
    raw: dict[str, Any] = {
        "cell_type": "code",
        "metadata": {"tags": [INJECTED_TAG], "language": "python"},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }
    taken = {c.id for c in document.cells}
    cell_id = next(i for i in (INJECTED_TAG, *(f"{INJECTED_TAG}-{n}" for n in range(2, len(taken) + 3)))
                   if i not in taken)
    cell = Cell(id=cell_id, language="python", source=source, raw=raw)
    tagged = next((i for i, c in enumerate(document.cells) if PARAMETERS_TAG in c.tags), None)
    if tagged is None and warn is not None:
        warn(f"no cell is tagged '{PARAMETERS_TAG}': parameters injected before the first cell")
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


def _runs(cell: Cell) -> bool:
    return cell.language != "text" and cell.raw.get("cell_type") == "code"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def run_notebook(
    document: NotebookDocument, *, output_limit: int = DEFAULT_OUTPUT_LIMIT, config: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """Run every cell in order on a fresh engine (with `config`, else the notebook's); stop at the first failure
    of a cell not tagged `raises-exception` (later cells kept as they were). `progress` hears a line per cell."""
    config = document.config if config is None else config
    engine = Engine(output_limit=output_limit, config=config)
    order = [cell.id for cell in document.cells]
    total = sum(1 for cell in document.cells if _runs(cell))
    cells: list[dict[str, Any]] = []
    failure: CellFailure | None = None
    execution_count = 0
    with notebook_env(config):
        for index, cell in enumerate(document.cells, start=1):
            if failure is not None or not _runs(cell):
                cells.append(cell_json(cell, outputs=None, execution_count=None))
                continue
            execution_count += 1
            events: list[protocol.Message] = []
            started, clock = _now(), time.perf_counter()
            outcome = engine.execute(
                exec_id=f"headless-{index}", cell_id=cell.id, language=cell.language,
                source=cell.source, order=order, emit=events.append,
            )
            seconds = time.perf_counter() - clock
            outputs = folded([e.output for e in events if isinstance(e, protocol.Output)])
            out = cell_json(cell, outputs=nbformat_outputs(outputs, execution_count), execution_count=execution_count)
            # nbformat's own names for when a cell started and ended (as nbclient's record_timing writes them).
            out["metadata"]["execution"] = {"iopub.execute_input": started, "shell.execute_reply": _now()}
            cells.append(out)
            verb = "done"
            if outcome.state != "done":
                error = next((o for o in outputs if o.get("output_type") == "error"), {})
                ename = error.get("ename", outcome.state)
                if RAISES_TAG in cell.tags and outcome.state == "error":
                    verb = f"raised {ename} as its {RAISES_TAG} tag expects,"
                else:
                    verb = "failed"
                    failure = CellFailure(index=index, cell_id=cell.id, ename=ename, evalue=error.get("evalue", ""))
            if progress is not None:
                progress(f"[{execution_count}/{total}] {cell.id} {cell.language} {verb} in {seconds:.2f} s")
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
    parser.add_argument("-o", "--output", default=None,
                        help="where to write the results (default IN.out.ipynb; - for stdout)")
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


def say(line: str) -> None:
    """One line of the runner's own on stderr."""
    print(f"run_notebook: {line}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """File descriptor 1 sent to stderr for the duration, so that cells, and processes they start, cannot write
    into results written to stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def describe_target(target: Path | None) -> str:
    return "results on stdout" if target is None else f"results in {target}"


def execute(
    input_path: str, *, output: str | None, parameters: Sequence[str], output_limit: int = DEFAULT_OUTPUT_LIMIT,
    spark_conf: Sequence[str] = (), progress: Progress | None = say,
) -> tuple[RunReport, Path | None]:
    """Read, run and write (to stdout when `output` is "-", then the target is None); HeadlessError for bad input,
    the report for the caller to judge."""
    path = Path(input_path)
    document = load(input_path)
    try:
        inject_parameters(document, parse_parameters(parameters), warn=progress)
        extra = spark_conf_items(spark_conf)
    except ParameterError as exc:
        raise HeadlessError(str(exc)) from None
    # The engine gets the jars; the results keep the notebook's own configuration.
    config = {**document.config, "sparkConfig": {**(document.config.get("sparkConfig") or {}), **extra}} if extra \
        else document.config
    to_stdout = output == STDOUT
    with stdout_to_stderr() if to_stdout else contextlib.nullcontext():
        report = run_notebook(document, output_limit=output_limit, config=config, progress=progress)
    text = json.dumps(report.notebook, indent=1, ensure_ascii=False, default=str) + "\n"
    if to_stdout:
        sys.stdout.write(text)
        sys.stdout.flush()
        return report, None
    target = Path(output) if output else default_output_path(path)
    try:
        target.write_text(text, encoding="utf-8")
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
        say(f"error: {exc}")
        return EXIT_BAD_INPUT
    if report.failure is not None:
        say(f"{report.failure.describe()} ({describe_target(target)})")
        return EXIT_CELL_FAILED
    say(f"ran {args.input}, {describe_target(target)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
