"""How faithfully an .ipynb file survives import and export: kept, lossless, valid, with what was lost named.

The third-party notebooks measured are kept beside this file: data/nbformat (nbformat's test notebooks),
data/polynote (Polynote's published examples) and tests/kernels/core/data/papermill (papermill's), each with its
source and licence. Both the tests and benchmarks/ipynb_fidelity.py use this module.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernels.core.ipynb_format import upgrade, validation_errors

HERE = Path(__file__).resolve().parent
CORPUS_DIRS = (HERE / "data" / "nbformat", HERE / "data" / "polynote",
               HERE.parent / "kernels" / "core" / "data" / "papermill", HERE / "data")
# nbformat's own examples of files that must not be read as valid (duplicate or malformed cell ids).
INVALID_BY_DESIGN = frozenset({"invalid.ipynb", "invalid_cell_id.ipynb", "invalid_unique_cell_id.ipynb",
                               "v4_5_invalid_metadata.ipynb", "broken1.ipynb"})


def corpus() -> list[Path]:
    return sorted(p for d in CORPUS_DIRS for p in d.glob("*.ipynb"))


def _joined(value: Any) -> Any:
    return "".join(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value


def _bundle(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v if k == "application/json" or k.endswith("+json") else _joined(v) for k, v in data.items()}


def _output(output: dict[str, Any]) -> dict[str, Any]:
    out = dict(output)
    if "text" in out:
        out["text"] = _joined(out["text"])
    if isinstance(out.get("data"), dict):
        out["data"] = _bundle(out["data"])
    out.pop("transient", None)  # never stored in a file by Jupyter itself
    return out


def _merged(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adjacent chunks of one stream as one output: how nbformat and Jupyter write them."""
    merged: list[dict[str, Any]] = []
    for output in outputs:
        last = merged[-1] if merged else None
        if last and output.get("output_type") == "stream" == last.get("output_type") and \
                last.get("name") == output.get("name"):
            last["text"] = last.get("text", "") + output.get("text", "")
        else:
            merged.append(dict(output))
    return merged


def _contains(big: Any, small: Any) -> bool:
    """`big` holds everything `small` does: objects may gain keys, everything else is equal."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and _contains(big[k], v) for k, v in small.items())
    return bool(big == small)


def losses(original: dict[str, Any], exported: dict[str, Any]) -> list[str]:
    """What of `original` (already upgraded to v4) `exported` lost, one line each; [] when lossless."""
    lost: list[str] = []
    metadata = {k: v for k, v in (original.get("metadata") or {}).items() if k != "quire"}
    for key, value in metadata.items():
        if key != "config" and not _contains(exported["metadata"].get(key), value):
            lost.append(f"metadata.{key}")
    if len(original["cells"]) != len(exported["cells"]):
        return [*lost, f"cells: {len(original['cells'])} became {len(exported['cells'])}"]
    for index, (before, after) in enumerate(zip(original["cells"], exported["cells"], strict=True)):
        where = f"cells[{index}]"
        if before.get("cell_type") != after.get("cell_type"):
            lost.append(f"{where}.cell_type {before.get('cell_type')} became {after.get('cell_type')}")
            continue
        # Polynote repeats a cell's language beside its metadata and gives markdown cells empty results.
        noise = {"language"} | ({"outputs", "execution_count"} if before.get("cell_type") != "code" else set())
        missing = sorted(set(before) - set(after) - noise)
        if missing:
            lost.append(f"{where}: {', '.join(missing)}")
        if _joined(before.get("source", "")) != _joined(after.get("source", "")):
            lost.append(f"{where}.source")
        if isinstance(before.get("id"), str) and before["id"] != after.get("id"):
            lost.append(f"{where}.id")
        cell_metadata = {k: v for k, v in (before.get("metadata") or {}).items()}
        if not _contains(after.get("metadata"), cell_metadata):
            lost.append(f"{where}.metadata")
        if before.get("attachments") and not _contains(after.get("attachments"), before["attachments"]):
            lost.append(f"{where}.attachments")
        if before.get("cell_type") == "code":
            if before.get("execution_count") != after.get("execution_count"):
                lost.append(f"{where}.execution_count {before.get('execution_count')} became "
                            f"{after.get('execution_count')}")
            want = _merged([_output(o) for o in before.get("outputs") or []])
            got = [_output(o) for o in after.get("outputs") or []]
            if len(want) != len(got) or not all(_contains(g, w) for g, w in zip(got, want, strict=True)):
                lost.append(f"{where}.outputs")
    return lost


@dataclass
class Fidelity:
    name: str
    kept: bool = False
    refused: str = ""
    lost: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    exported: dict[str, Any] = field(default_factory=dict)

    @property
    def lossless(self) -> bool:
        return self.kept and not self.lost

    @property
    def valid(self) -> bool:
        return self.kept and not self.invalid


def measure(path: Path) -> Fidelity:
    """Import `path` and export it again, without a database (the notebook row is never saved)."""
    from notebooks.interchange import export_ipynb, parse_ipynb
    from notebooks.models import Notebook
    from quire.lib.errors import InvalidInput

    result = Fidelity(name=f"{path.parent.name}/{path.name}")
    data = path.read_bytes()
    try:
        parsed = parse_ipynb(data, name=path.name)
    except InvalidInput as exc:
        result.refused = f"{exc.field}: {exc}"
        return result
    result.kept = True
    notebook = Notebook(pk=1, title=parsed.title, config=parsed.config)
    notebook.file_metadata = getattr(parsed, "metadata", {})
    exported = export_ipynb(notebook=notebook, cells=parsed.cells, config=parsed.config, version=None)
    exported = json.loads(json.dumps(exported))
    original = upgrade(copy.deepcopy(json.loads(data)), name=path.name)
    result.lost = losses(original, exported)
    result.invalid = validation_errors(exported)
    result.exported = exported
    return result


def polynote_unreadable(exported: dict[str, Any]) -> list[str]:
    """Where Polynote's reader would fail on `exported`: it takes `source` and stream `text` only as lists of lines."""
    places = []
    for index, cell in enumerate(exported["cells"]):
        if "source" in cell and not isinstance(cell["source"], list):
            places.append(f"cells[{index}].source")
        for number, output in enumerate(cell.get("outputs") or []):
            if output.get("output_type") == "stream" and not isinstance(output.get("text"), list):
                places.append(f"cells[{index}].outputs[{number}].text")
    return places
