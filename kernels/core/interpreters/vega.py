"""Vega cells: a Vega or Vega-Lite JSON spec whose named data comes from a table in scope.

Convention: a data source that names a symbol — Vega-Lite's `"data": {"name": "df"}` (top level or
in any layer/concat sub-spec) or an entry `{"name": "df", ...}` of a Vega spec's `"data"` list with
no `values`, `url` or `source` — is filled with that symbol's rows (a pandas DataFrame, an Arrow
table, a Spark DataFrame or a list of records). Tables over MAX_ROWS rows, and every Spark DataFrame,
are reduced on the server: a Vega-Lite unit whose encoding groups by plain or binned fields and
aggregates (count, sum, mean, median, quantiles, ...) is aggregated by the kernel (kernels/core/plot_data.py:
DuckDB, or Spark for Spark data) and its encoding rewritten to the pre-computed fields; anything else is
sampled (deterministically). Either way the cell says so in a note. The output is
`application/vnd.vegalite+json` or `application/vnd.vega+json` (from `$schema`, else the shape).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from kernels.core import plot_data
from kernels.core.errors import EngineError
from kernels.core.interpreters.base import Interpreter, InterpreterEnv, RunContext, RunResult, RunStatus
from kernels.core.scope import Scope
from kernels.core.tables import is_spark_frame, is_table
from kernels.core.tracebacks import error_output, position

VEGALITE_MIME = "application/vnd.vegalite+json"
VEGA_MIME = "application/vnd.vega+json"
# Vega-Lite's own default maxRows; a browser renders this many marks comfortably.
MAX_ROWS = 5000
_AGGREGATES = {
    "count": "size", "valid": "count", "sum": "sum", "mean": "mean", "average": "mean",
    "median": "median", "min": "min", "max": "max", "distinct": "nunique",
    "stdev": "std", "variance": "var",
}
_SUBSPEC_KEYS = ("layer", "hconcat", "vconcat", "concat")


class SpecError(Exception):
    """A spec the kernel cannot fill (unknown data name, a value that is not a table)."""


class PlotError(EngineError):
    """A plot preview the kernel cannot draw (the same faults as SpecError, answered to a request)."""


def _is_vega(spec: dict[str, Any]) -> bool:
    schema = str(spec.get("$schema", ""))
    if "vega-lite" in schema:
        return False
    return "/vega/" in schema or "marks" in spec or isinstance(spec.get("data"), list)


def _as_frame(name: str, value: Any) -> Any:
    import pandas as pd

    if is_table(value) and hasattr(value, "toPandas"):
        return value.toPandas()  # a Spark DataFrame; large ones are sampled after, as pandas frames are
    if is_table(value):
        return value.to_pandas() if hasattr(value, "to_pandas") and not hasattr(value, "iloc") else value
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        return pd.DataFrame.from_records(value)
    raise SpecError(f"data {name!r} names a {type(value).__name__}, not a table or a list of records")


def _length(value: Any) -> int:
    return int(value.num_rows) if hasattr(value, "num_rows") else len(value)


def _records(frame: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))
    return records


def _aggregate(frame: Any, encoding: dict[str, Any]) -> tuple[Any, dict[str, Any], str] | None:
    """Group by the plain fields and compute the aggregated ones, or None if the encoding has others."""
    keys: list[str] = []
    measures: dict[str, tuple[str | None, str, str]] = {}
    rewritten: dict[str, Any] = {}
    for channel, definition in encoding.items():
        if not isinstance(definition, dict) or not ({"field", "aggregate"} & definition.keys()):
            rewritten[channel] = definition  # a constant value or something we leave alone
            continue
        if {"bin", "timeUnit"} & definition.keys():
            return None
        aggregate, field = definition.get("aggregate"), definition.get("field")
        if aggregate is None:
            if not isinstance(field, str) or field not in frame.columns:
                return None
            keys.append(field)
            rewritten[channel] = definition
            continue
        if aggregate not in _AGGREGATES or (aggregate != "count" and field not in frame.columns):
            return None
        output = "__count" if aggregate == "count" else f"{aggregate}_{field}"
        measures[output] = (field, _AGGREGATES[aggregate], aggregate)
        title = "Count of Records" if aggregate == "count" else f"{aggregate.capitalize()} of {field}"
        new = {k: v for k, v in definition.items() if k != "aggregate"}
        new.update(field=output)
        new.setdefault("title", title)
        rewritten[channel] = new
    if not measures:
        return None
    grouped = frame.groupby(keys, dropna=False, sort=True) if keys else None
    columns = {}
    for output, (field, how, _) in measures.items():
        if grouped is None:
            columns[output] = [len(frame) if how == "size" else getattr(frame[field], how)()]
        else:
            columns[output] = grouped.size() if how == "size" else getattr(grouped[field], how)()
    import pandas as pd

    result = pd.DataFrame(columns).reset_index() if keys else pd.DataFrame(columns)
    summary = ", ".join(f"{agg} of {field or 'records'}" for field, _, agg in measures.values())
    summary += f" by {', '.join(keys)}" if keys else ""
    return result, rewritten, summary


class VegaInterpreter(Interpreter):
    language: ClassVar[str] = "vega"

    def __init__(self, env: InterpreterEnv, max_rows: int = MAX_ROWS) -> None:
        self.env = env
        self.max_rows = max_rows

    def run(self, code: str, scope: Scope, context: RunContext) -> RunResult:
        context.on_statement(1, max(1, code.count("\n") + 1))
        try:
            spec = json.loads(code)
        except json.JSONDecodeError as exc:
            spot = position(line=exc.lineno, column=exc.colno, end_line=exc.lineno, end_column=exc.colno + 1, message=exc.msg)
            context.sink.error(error_output("JSONDecodeError", str(exc), [f"invalid JSON spec: {exc}"], [spot]))
            return RunResult(status=RunStatus.ERROR)
        if not isinstance(spec, dict):
            context.sink.error(error_output("SpecError", "a Vega spec is a JSON object", [], []))
            return RunResult(status=RunStatus.ERROR)
        reads: set[str] = set()
        notes: list[str] = []
        mime = VEGA_MIME if _is_vega(spec) else VEGALITE_MIME
        try:
            self._fill(spec, scope, reads, notes)
        except SpecError as exc:
            context.sink.error(error_output("SpecError", str(exc), [str(exc)], []))
            return RunResult(status=RunStatus.ERROR, reads=frozenset(reads))
        for note in notes:
            context.sink.write("stdout", f"note: {note}\n")
        metadata = {"quire": {"notes": notes}} if notes else {}
        plain = "Vega-Lite chart" if mime == VEGALITE_MIME else "Vega chart"
        context.sink.emit_bundle({mime: spec, "text/plain": plain}, metadata)
        return RunResult(status=RunStatus.DONE, out=spec, reads=frozenset(reads))

    def fill(self, spec: dict[str, Any], scope: Scope) -> tuple[dict[str, Any], list[str]]:
        """The spec with its named data filled from `scope` (as a run would), and the notes on how it was reduced."""
        notes: list[str] = []
        try:
            self._fill(spec, scope, set(), notes)
        except SpecError as exc:
            raise PlotError(str(exc)) from exc
        return spec, notes

    def _fill(self, spec: dict[str, Any], scope: Scope, reads: set[str], notes: list[str]) -> None:
        if _is_vega(spec):
            self._fill_vega(spec, scope, reads, notes)
        else:
            self._fill_vegalite(spec, scope, reads, notes)

    def _lookup(self, name: str, scope: Scope) -> Any:
        if name not in scope:
            tables = sorted(n for n, s in scope.items() if is_table(s.value))
            raise SpecError(f"data {name!r} is not a symbol in scope (tables in scope: {', '.join(tables) or 'none'})")
        return _as_frame(name, scope[name].value)

    def _lookup_table(self, name: str, scope: Scope) -> Any:
        """The named value, checked to be something a chart can draw (a table or a list of records)."""
        if name not in scope:
            self._lookup(name, scope)  # raises, naming the tables in scope
        value = scope[name].value
        if is_table(value) or (isinstance(value, list) and all(isinstance(row, dict) for row in value)):
            return value
        raise SpecError(f"data {name!r} names a {type(value).__name__}, not a table or a list of records")

    def _sampled_frame(self, name: str, value: Any, notes: list[str]) -> Any:
        """A pandas frame of the value; a large Spark frame is sampled by Spark, never collected whole."""
        if not is_spark_frame(value):
            return _as_frame(name, value)
        total = value.count()
        if total <= self.max_rows:
            return value.toPandas()
        notes.append(f"{name} has {total:,} rows; the chart shows a random sample of about {self.max_rows:,}")
        fraction = min(1.0, 1.2 * self.max_rows / total)  # a little over, then cut: sampling is approximate
        return value.sample(fraction=fraction, seed=0).limit(self.max_rows).toPandas()

    def _reduce_sample(self, name: str, frame: Any, notes: list[str]) -> Any:
        if len(frame) <= self.max_rows:
            return frame
        notes.append(f"{name} has {len(frame):,} rows; the chart shows a random sample of {self.max_rows:,}")
        return frame.sample(n=self.max_rows, random_state=0).sort_index()

    def _fill_vegalite(self, spec: dict[str, Any], scope: Scope, reads: set[str], notes: list[str]) -> None:
        data = spec.get("data")
        if isinstance(data, dict) and isinstance(data.get("name"), str) and "values" not in data:
            name = data["name"]
            value = self._lookup_table(name, scope)
            reads.add(name)
            encoding = spec.get("encoding")
            done = None
            if isinstance(encoding, dict) and "transform" not in spec:
                done = plot_data.aggregate(value, encoding, over=self.max_rows)
            if done is not None and len(done.frame) <= self.max_rows:
                spec["encoding"] = done.encoding
                if is_spark_frame(value):
                    notes.append(f"{name} was aggregated by Spark ({done.summary}) to {len(done.frame):,}")
                else:
                    notes.append(
                        f"{name} has {_length(value):,} rows; aggregated on the server ({done.summary}) to {len(done.frame):,}"
                    )
                spec["data"] = {"values": _records(done.frame)}
            else:
                frame = self._sampled_frame(name, value, notes)
                total = len(frame)
                if total > self.max_rows and isinstance(encoding, dict) and "transform" not in spec:
                    aggregated = _aggregate(frame, encoding)  # without DuckDB: pandas, no bins
                    if aggregated is not None and len(aggregated[0]) <= self.max_rows:
                        frame, spec["encoding"], summary = aggregated
                        notes.append(f"{name} has {total:,} rows; aggregated on the server ({summary}) to {len(frame):,}")
                spec["data"] = {"values": _records(self._reduce_sample(name, frame, notes))}
        for key in _SUBSPEC_KEYS:
            for sub in spec.get(key) or []:
                if isinstance(sub, dict):
                    self._fill_vegalite(sub, scope, reads, notes)
        if isinstance(spec.get("spec"), dict):  # facet and repeat
            self._fill_vegalite(spec["spec"], scope, reads, notes)

    def _fill_vega(self, spec: dict[str, Any], scope: Scope, reads: set[str], notes: list[str]) -> None:
        for entry in spec.get("data") or []:
            if not isinstance(entry, dict) or {"values", "url", "source"} & entry.keys():
                continue
            name = entry.get("name")
            if isinstance(name, str):
                reads.add(name)
                frame = self._sampled_frame(name, self._lookup_table(name, scope), notes)
                entry["values"] = _records(self._reduce_sample(name, frame, notes))
