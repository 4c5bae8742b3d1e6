"""A Vega-Lite encoding's aggregation run by the kernel: group by plain and binned fields, compute the aggregates,
and rewrite the encoding to draw the pre-computed points. DuckDB for local data, Spark for Spark data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kernels.core.table_query import local_frame
from kernels.core.tables import is_spark_frame

# Vega-Lite's aggregate names -> (DuckDB SQL template, quantile for Spark's percentile_approx or None).
AGGREGATES: dict[str, str] = {
    "count": "count(*)", "valid": "count({f})", "sum": "sum({f})", "mean": "avg({f})", "average": "avg({f})",
    "median": "quantile_cont({f}, 0.5)", "q1": "quantile_cont({f}, 0.25)", "q3": "quantile_cont({f}, 0.75)",
    "min": "min({f})", "max": "max({f})", "distinct": "count(DISTINCT {f})", "stdev": "stddev_samp({f})",
    "variance": "var_samp({f})",
}
_QUANTILES = {"median": 0.5, "q1": 0.25, "q3": 0.75}
# Vega-Lite's default maxbins: 10 on x and y.
DEFAULT_MAXBINS = 10
# Only positional channels have a second channel (x2, y2) to draw a bin's end.
_BIN_CHANNELS = {"x": "x2", "y": "y2"}


# Vega-Lite's time units that keep the calendar (a truncation), by the unit they truncate to.
TIME_UNITS = {
    "year": "year", "yearquarter": "quarter", "yearmonth": "month", "yearmonthdate": "day", "yearweek": "week",
    "yearmonthdatehours": "hour", "yearmonthdatehoursminutes": "minute",
    "yearmonthdatehoursminutesseconds": "second",
}


@dataclass(frozen=True)
class Key:
    field: str
    output: str
    maxbins: int | None = None  # binned when set
    time_unit: str | None = None  # truncated to a TIME_UNITS key when set


@dataclass(frozen=True)
class Measure:
    output: str
    aggregate: str
    field: str | None


@dataclass(frozen=True)
class Aggregated:
    frame: Any  # a pandas DataFrame of the aggregated points
    encoding: dict[str, Any]
    summary: str


def _plan(encoding: dict[str, Any], columns: list[str]) -> tuple[list[Key], list[Measure], dict[str, str]] | None:
    """The group keys and aggregates of an encoding, or None when it asks for more than they can draw."""
    keys: list[Key] = []
    measures: list[Measure] = []
    channels: dict[str, str] = {}  # channel -> the key or measure output that draws it
    for channel, definition in encoding.items():
        if not isinstance(definition, dict) or not ({"field", "aggregate"} & definition.keys()):
            continue  # a constant value
        if channel in ("x2", "y2"):
            return None
        aggregate, field, binning = definition.get("aggregate"), definition.get("field"), definition.get("bin")
        unit = definition.get("timeUnit")
        if isinstance(unit, dict):
            unit = unit.get("unit")
        if unit is not None and (unit not in TIME_UNITS or aggregate is not None or binning):
            return None
        if aggregate is None:
            if not isinstance(field, str) or field not in columns:
                return None
            if unit is not None:
                keys.append(Key(field=field, output=f"{unit}_{field}", time_unit=unit))
                channels[channel] = keys[-1].output
                continue
            if binning:
                maxbins = binning.get("maxbins", DEFAULT_MAXBINS) if isinstance(binning, dict) else DEFAULT_MAXBINS
                if channel not in _BIN_CHANNELS or (isinstance(binning, dict) and binning.get("binned")):
                    return None
                if not isinstance(maxbins, int) or maxbins < 1:
                    return None
                keys.append(Key(field=field, output=f"bin_{field}", maxbins=maxbins))
            elif field not in [k.output for k in keys]:
                keys.append(Key(field=field, output=field))
            channels[channel] = keys[-1].output if binning else field
            continue
        if aggregate not in AGGREGATES or binning or (aggregate != "count" and field not in columns):
            return None
        output = "__count" if aggregate == "count" else f"{aggregate}_{field}"
        measures.append(Measure(output=output, aggregate=aggregate, field=None if aggregate == "count" else field))
        channels[channel] = output
    return (keys, measures, channels) if measures else None


def nice_step(low: float, high: float, maxbins: int) -> float:
    """A bin width of 1, 2 or 5 times a power of ten giving at most maxbins bins over [low, high]."""
    span = high - low
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / maxbins
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        step = magnitude * multiple
        if step >= raw and math.floor(high / step) - math.floor(low / step) + 1 <= maxbins:
            return float(step)
    return float(magnitude * 20)


def _rewrite(
    encoding: dict[str, Any], keys: list[Key], measures: list[Measure], channels: dict[str, str], steps: dict[str, float]
) -> dict[str, Any]:
    rewritten: dict[str, Any] = {}
    binned = {k.output: k for k in keys if k.maxbins is not None}
    for channel, definition in encoding.items():
        output = channels.get(channel)
        if output is None or not isinstance(definition, dict):
            rewritten[channel] = definition
            continue
        new = {k: v for k, v in definition.items() if k not in ("aggregate", "bin")}
        truncated = next((k for k in keys if k.output == output and k.time_unit), None)
        if truncated is not None:
            # The times are already cut to the unit; Vega-Lite's timeUnit, kept, labels the axis the same way.
            new.update(field=output)
            new.setdefault("type", "temporal")
            new.setdefault("title", truncated.field)
            rewritten[channel] = new
            continue
        if output in binned:
            step = steps[output]
            new.update(field=output, bin={"binned": True, "step": int(step) if step.is_integer() else step})
            new.setdefault("type", "quantitative")
            new.setdefault("title", binned[output].field)
            rewritten[channel] = new
            rewritten[_BIN_CHANNELS[channel]] = {"field": f"{output}_end"}
            continue
        measure = next((m for m in measures if m.output == output), None)
        if measure is not None:
            new.update(field=output)
            new.setdefault("title", "Count of Records" if measure.field is None else f"{measure.aggregate.capitalize()} of {measure.field}")
        rewritten[channel] = new
    return rewritten


def _summary(keys: list[Key], measures: list[Measure]) -> str:
    text = ", ".join(f"{m.aggregate} of {m.field or 'records'}" for m in measures)
    named = [f"{k.field} (binned)" if k.maxbins else f"{k.field} ({k.time_unit})" if k.time_unit else k.field for k in keys]
    return text + (f" by {', '.join(named)}" if named else "")


def aggregate(value: Any, encoding: dict[str, Any], *, over: int) -> Aggregated | None:
    """The encoding's aggregation of a table, or None if it has none the kernel can run, or (for local data) the
    table has at most `over` rows, which the browser draws as they are."""
    if is_spark_frame(value):
        return _spark_aggregate(value, encoding)
    try:
        import duckdb
    except ImportError:
        return None  # the Vega interpreter's pandas aggregation, without bins, takes over
    frame = local_frame(value)
    if len(frame) <= over:
        return None
    planned = _plan(encoding, list(frame.columns))
    if planned is None:
        return None
    keys, measures, channels = planned
    con = duckdb.connect()
    try:
        con.register("t", frame)
        steps = _local_steps(con, keys)
        select, group = [], []
        for key in keys:
            column = _ident(key.field)
            if key.maxbins is not None:
                step = steps[key.output]
                select.append(f"floor({column} / {step!r}) * {step!r} AS {_ident(key.output)}")
            elif key.time_unit is not None:
                select.append(f"date_trunc('{TIME_UNITS[key.time_unit]}', {column}) AS {_ident(key.output)}")
            else:
                select.append(f"{column} AS {_ident(key.output)}")
            group.append(_ident(key.output))
        select += [AGGREGATES[m.aggregate].format(f=_ident(m.field or "")) + f" AS {_ident(m.output)}" for m in measures]
        sql = f"SELECT {', '.join(select)} FROM t"
        if group:
            sql += f" GROUP BY {', '.join(group)} ORDER BY {', '.join(g + ' NULLS LAST' for g in group)}"
        result = con.execute(sql).df()
    except duckdb.Error:
        return None  # a column DuckDB cannot read: the chart is drawn from a sample instead, and says so
    finally:
        con.close()
    for key in keys:
        if key.maxbins is not None:
            result.insert(result.columns.get_loc(key.output) + 1, f"{key.output}_end", result[key.output] + steps[key.output])
    return Aggregated(frame=result, encoding=_rewrite(encoding, keys, measures, channels, steps), summary=_summary(keys, measures))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _local_steps(con: Any, keys: list[Key]) -> dict[str, float]:
    binned = [k for k in keys if k.maxbins is not None]
    if not binned:
        return {}
    parts = ", ".join(f"min({_ident(k.field)}), max({_ident(k.field)})" for k in binned)
    row = con.execute(f"SELECT {parts} FROM t").fetchone()
    return {
        k.output: nice_step(float(row[2 * i] or 0), float(row[2 * i + 1] or 0), k.maxbins or DEFAULT_MAXBINS)
        for i, k in enumerate(binned)
    }


def _spark_aggregate(frame: Any, encoding: dict[str, Any]) -> Aggregated | None:
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    planned = _plan(encoding, list(frame.columns))
    if planned is None:
        return None
    keys, measures, channels = planned

    def col(name: str) -> Any:
        return F.col(f"`{name}`")

    binned = [k for k in keys if k.maxbins is not None]
    steps: dict[str, float] = {}
    if binned:
        row = frame.agg(*[f(col(k.field)) for k in binned for f in (F.min, F.max)]).collect()[0]
        steps = {
            k.output: nice_step(float(row[2 * i] or 0), float(row[2 * i + 1] or 0), k.maxbins or DEFAULT_MAXBINS)
            for i, k in enumerate(binned)
        }
    groups = [
        (F.floor(col(k.field) / F.lit(steps[k.output])) * F.lit(steps[k.output])).alias(k.output)
        if k.maxbins is not None
        else F.date_trunc(TIME_UNITS[k.time_unit], col(k.field)).alias(k.output)
        if k.time_unit is not None
        else col(k.field).alias(k.output)
        for k in keys
    ]
    simple = {"valid": F.count, "sum": F.sum, "mean": F.avg, "average": F.avg, "min": F.min, "max": F.max,
              "distinct": F.countDistinct, "stdev": F.stddev_samp, "variance": F.var_samp}
    aggs = []
    for m in measures:
        if m.aggregate == "count":
            aggs.append(F.count(F.lit(1)).alias(m.output))
        elif m.aggregate in _QUANTILES:
            aggs.append(F.percentile_approx(col(m.field or ""), _QUANTILES[m.aggregate]).alias(m.output))
        else:
            aggs.append(simple[m.aggregate](col(m.field or "")).alias(m.output))
    grouped = frame.groupBy(*groups).agg(*aggs) if groups else frame.agg(*aggs)
    if groups:
        grouped = grouped.orderBy(*[F.col(f"`{k.output}`").asc_nulls_last() for k in keys])
    result = grouped.toPandas()
    for key in binned:
        result.insert(result.columns.get_loc(key.output) + 1, f"{key.output}_end", result[key.output] + steps[key.output])
    return Aggregated(frame=result, encoding=_rewrite(encoding, keys, measures, channels, steps), summary=_summary(keys, measures))
