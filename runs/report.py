"""The reproducibility report of a run: each cell reproduced, differs or failed against the version's outputs,
with a readable diff of normalised outputs and the likely causes, named per cell.

Outputs are compared as text after normalisation (timestamps, memory addresses, UUIDs and object ids replaced by
placeholders); images are compared by their sha256. Causes, most telling first: data changed (a file the cell read
has another hash than when an earlier run of the version read it), environment changed (the run's lock differs
from the version's in a package the cell imports), config changed (Spark settings or variables), nondeterminism
(time, unseeded randomness, unordered Spark results, read from the cell's source), an upstream cell differed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from typing import Any

from kernels.core.tables import TABLE_MIME
from runs.locks import diff_locks
from runs.models import Run, VersionLock

REPRODUCED, DIFFERS, FAILED = "reproduced", "differs", "failed"
# Longest diff kept per cell: a report is read by people, and the outputs themselves are on the run.
MAX_DIFF_LINES = 200
MAX_DIFF_LINE_CHARS = 1000

_NORMALISE = [
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\b"), "<timestamp>"),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(\.\d+)?\b"), "<time>"),
    (re.compile(r"\b0x[0-9a-fA-F]{6,16}\b"), "0x<address>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b(id|pid)=\d+\b"), r"\1=<id>"),
]
_SEEDS = re.compile(r"\b(random\.seed|np\.random\.seed|numpy\.random\.seed|manual_seed|default_rng\(\s*\d)")
_NONDETERMINISM = [
    (re.compile(r"\b(random\.|randint\(|np\.random\.|numpy\.random\.|default_rng\(\s*\))"), "unseeded randomness"),
    (re.compile(r"\b(time\.time|time\.time_ns|datetime\.now|datetime\.utcnow|date\.today|datetime\.today)\b"),
     "the current time"),
    (re.compile(r"\buuid\.?uuid[14]\b"), "random identifiers"),
]
_UNORDERED_SQL = re.compile(r"^\s*select\b(?!.*\border\s+by\b)", re.IGNORECASE | re.DOTALL)
_SPARK_ROWS = re.compile(r"\b(spark\.(sql|table|read)|\.(groupBy|join|distinct|union\w*|repartition)\()")
_SPARK_ORDERED = re.compile(r"\.(orderBy|sort|sortWithinPartitions)\(|\border\s+by\b", re.IGNORECASE)
_ENVIRONMENT_SECTIONS = ("python", "platform_packages", "jvm", "platform")
_CONFIG_SECTIONS = ("spark", "env_names")


def normalise(text: str) -> str:
    for pattern, replacement in _NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def _stable(mime: str, value: Any) -> Any:
    """A rich value without what names this kernel's objects: a table's `ref` counts the kernel's tables."""
    if mime == TABLE_MIME and isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "ref"}
    return value


def render_lines(outputs: list[dict[str, Any]]) -> list[str]:
    """Outputs as comparable lines, normalised."""
    lines: list[str] = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            lines += [f"[{output.get('name', 'stdout')}] {line}" for line in str(output.get("text", "")).splitlines()]
        elif kind == "error":
            lines.append(f"[error] {output.get('ename')}: {output.get('evalue')}")
        elif kind in ("execute_result", "display_data"):
            data = output.get("data") or {}
            for mime in sorted(data):
                value = data[mime]
                if mime.startswith("image/"):
                    digest = hashlib.sha256(str(value).encode()).hexdigest()[:16]
                    lines.append(f"[{mime}] sha256 {digest}")
                elif mime == "text/plain":
                    lines += [f"[result] {line}" for line in str(value).splitlines()]
                elif mime != "text/html" or "text/plain" not in data:
                    shown = value if isinstance(value, str) else json.dumps(_stable(mime, value), sort_keys=True)
                    lines += [f"[{mime}] {line}" for line in shown.splitlines()]
    return [normalise(line) for line in lines]


def _cut(line: str) -> str:
    return line if len(line) <= MAX_DIFF_LINE_CHARS else line[:MAX_DIFF_LINE_CHARS] + f"… ({len(line):,} characters)"


def _module_names(distribution: str) -> set[str]:
    base = distribution.lower().replace("-", "_")
    return {base, base.removeprefix("python_")}


def _imports(source: str, module: str) -> bool:
    return re.search(rf"^\s*(import|from)\s+{re.escape(module)}\b", source, re.MULTILINE) is not None


def _baseline_files(run: Run) -> dict[str, dict[str, str]]:
    """Per cell, the files an earlier finished run of the same version read, with their hashes."""
    earlier = (Run.objects.filter(version_id=run.version_id, created_at__lt=run.created_at,
                                  state__in=(Run.State.DONE, Run.State.FAILED))
               .exclude(pk=run.pk).order_by("-created_at").values_list("cells", flat=True))
    files: dict[str, dict[str, str]] = {}
    for cells in earlier:
        for cell in cells or []:
            for path, digest in (cell.get("files") or {}).items():
                files.setdefault(cell["id"], {}).setdefault(path, digest)
    return files


def _causes(cell: dict[str, Any], *, seeded: bool, lock_changes: list[dict[str, Any]],
            baseline: dict[str, str] | None, upstream: str | None) -> list[dict[str, Any]]:
    causes: list[dict[str, Any]] = []
    source = str(cell.get("source") or "")
    files = cell.get("files") or {}
    changed = {p: (baseline[p], h) for p, h in files.items() if baseline and p in baseline and baseline[p] != h}
    if changed:
        causes.append({"kind": "data", "detail": "; ".join(
            f"{path} changed (sha256 {before[:12]} → {after[:12]})" for path, (before, after) in sorted(changed.items()))})
    packages = [c for c in lock_changes if c["section"] in ("python", "platform_packages")
                and any(_imports(source, m) for m in _module_names(c["name"]))]
    if packages:
        causes.append({"kind": "environment", "detail": "; ".join(
            f"{c['name']} {c['before'] or 'absent'} → {c['after'] or 'absent'}" for c in packages)})
    config = [c for c in lock_changes if c["section"] in _CONFIG_SECTIONS]
    if config and (cell.get("language") in ("sql", "scala") or "spark" in source or "environ" in source):
        causes.append({"kind": "config", "detail": "; ".join(
            f"{c['section']} {c['name']}: {c['before']} → {c['after']}" for c in config)})
    for pattern, what in _NONDETERMINISM:
        if pattern.search(source) and not (what == "unseeded randomness" and seeded):
            causes.append({"kind": "nondeterminism", "detail": f"the cell uses {what}"})
            break
    if cell.get("language") == "sql" and _UNORDERED_SQL.match(source):
        causes.append({"kind": "nondeterminism", "detail": "a Spark query without ORDER BY returns rows in any order"})
    elif cell.get("language") in ("python", "scala") and _SPARK_ROWS.search(source) \
            and not _SPARK_ORDERED.search(source):
        causes.append({"kind": "nondeterminism",
                       "detail": "Spark returns these rows in no set order (no orderBy or ORDER BY)"})
    if upstream is not None:
        causes.append({"kind": "upstream", "detail": f"cell {upstream} above differed"})
    environment = [c for c in lock_changes if c["section"] in _ENVIRONMENT_SECTIONS]
    if not causes and environment:
        causes.append({"kind": "environment", "detail": "; ".join(
            f"{c['section']} {c['name']}: {c['before']} → {c['after']}" for c in environment[:10])})
    if files and not changed and baseline is None:
        causes.append({"kind": "data", "unverified": True, "detail": "the cell read " + ", ".join(sorted(files))
                       + " (no earlier run of this version recorded their hashes)"})
    return causes


def build_report(run: Run) -> dict[str, Any]:
    """The report of a finished run (see the module's description)."""
    version_lock = VersionLock.objects.filter(version_id=run.version_id).values_list("lock", flat=True).first()
    # A run's environment is keyed by its pinned packages, so its key always differs: the packages tell.
    lock_changes = [c for c in diff_locks(version_lock, run.lock) if c["section"] != "environment"] \
        if version_lock and run.lock and "error" not in version_lock else []
    recorded = {str(c.get("id")): c for c in run.version.cells}
    baseline = _baseline_files(run)
    cells: list[dict[str, Any]] = []
    seeded = False
    upstream: str | None = None
    for cell in run.cells:
        source = str(cell.get("source") or "")
        seeded = seeded or bool(_SEEDS.search(source))
        if cell.get("state") == "text" or cell.get("injected"):
            continue
        before = render_lines((recorded.get(cell["id"]) or {}).get("outputs") or [])
        after = render_lines(cell.get("outputs") or [])
        entry: dict[str, Any] = {"id": cell["id"], "language": cell.get("language")}
        if cell.get("state") == "skipped":
            entry.update(status=FAILED, diff=[], causes=[{"kind": "upstream", "detail": "not run: a cell above failed"}])
        elif cell.get("state") != "done" and before != after:
            entry.update(status=FAILED)
        else:
            entry.update(status=REPRODUCED if before == after else DIFFERS)
        if entry["status"] != REPRODUCED and "diff" not in entry:
            entry["diff"] = [_cut(line) for line in difflib.unified_diff(
                before, after, "version", "re-run", lineterm="", n=2)][:MAX_DIFF_LINES]
            entry["causes"] = _causes(cell, seeded=seeded, lock_changes=lock_changes,
                                      baseline=baseline.get(cell["id"]) if baseline else None, upstream=upstream)
        if entry["status"] == REPRODUCED:
            entry.update(diff=[], causes=[])
        else:
            upstream = upstream or cell["id"]
        entry["likely_cause"] = entry["causes"][0]["kind"] if entry["causes"] else None
        cells.append(entry)
    counts = {status: sum(1 for c in cells if c["status"] == status) for status in (REPRODUCED, DIFFERS, FAILED)}
    return {"summary": counts, "lock_changes": lock_changes, "cells": cells,
            "version_lock": "missing" if version_lock is None else "error" if "error" in version_lock else "recorded"}
