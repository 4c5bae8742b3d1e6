"""Import and export of .ipynb files (Jupyter's and Polynote's flavour) through the engine's reader and writer."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from kernels.core.errors import NotebookFormatError
from kernels.core.ipynb_format import split_lines, validation_errors
from kernels.core.notebook_file import (
    Cell,
    NotebookDocument,
    cell_json,
    nbformat_outputs,
    notebook_json,
    parse_notebook,
)
from notebooks.audit import do_record
from notebooks.models import AuditEntry, Notebook
from notebooks.services import do_create_notebook, get_notebook, resolve_team
from notebooks.snapshot import snapshot_cells
from notebooks.validation import (
    CELL_ID,
    MAX_IMPORT_BYTES,
    MAX_METADATA_BYTES,
    MAX_TITLE,
    check_cell_count,
    check_config,
    check_draft_size,
    check_language,
    check_source,
    check_title,
    json_size,
    new_cell_id,
)
from notebooks.versioning import do_snapshot_version, version_of
from quire.lib.errors import InvalidInput
from quire.lib.text import check_text, parse_json
from quire.lib.users import Account

# A file name long enough for any real one; it is kept in the first version's message and the audit log.
MAX_FILE_NAME = 255

_STREAMS = ("stdout", "stderr")
# The keys nbformat 4.5 gives each cell type, and those Polynote adds that say nothing more (a cell's language,
# repeated from its metadata; a markdown cell's empty outputs): any other key is kept in the file form.
_CELL_KEYS: dict[Any, set[str]] = {
    "code": {"id", "cell_type", "metadata", "source", "outputs", "execution_count", "language"},
    "markdown": {"id", "cell_type", "metadata", "source", "attachments", "language", "outputs", "execution_count"},
    "raw": {"id", "cell_type", "metadata", "source", "attachments", "language", "outputs", "execution_count"},
}
# The keys nbformat 4.5 gives each output type; an output with others is kept whole in the file form too.
KNOWN_OUTPUTS: dict[Any, set[str]] = {
    "stream": {"output_type", "name", "text"},
    "display_data": {"output_type", "data", "metadata"},
    "execute_result": {"output_type", "data", "metadata", "execution_count"},
    "error": {"output_type", "ename", "evalue", "traceback"},
}

# The cell metadata key that keeps what a cell's file form held beyond Quire's cell (a raw cell's type, markdown
# attachments, the file's execution count, a cell that cannot run here whole); export writes it back and drops it.
FILE_FORM = "ipynb"

# What an exported notebook names as its kernel, by its main language, when the imported file named none.
KERNELSPECS: dict[str, dict[str, str]] = {
    "python": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "scala": {"name": "scala", "display_name": "Scala", "language": "scala"},
}
LANGUAGE_INFO: dict[str, dict[str, str]] = {
    "python": {"name": "python", "mimetype": "text/x-python", "file_extension": ".py",
               "codemirror_mode": "python"},
    "scala": {"name": "scala", "mimetype": "text/x-scala", "file_extension": ".scala",
              "codemirror_mode": "text/x-scala"},
}


@dataclass(frozen=True)
class ParsedFile:
    title: str
    cells: list[dict[str, Any]]
    config: dict[str, Any]
    # The file's notebook-level metadata but `config` and `quire`: written back on export.
    metadata: dict[str, Any]
    # Where the file breaks nbformat's schema for its own version (at most a few, each naming its place).
    problems: list[str]


def _text(value: Any, field: str) -> str:
    # nbformat allows multi-line strings to be split into a list of lines.
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    raise InvalidInput("expected a string or a list of strings", field=field)


def _bundle(data: Any, field: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput("an output's data is an object of MIME types", field=field)
    return {
        mime: _text(value, f"{field}.{mime}") if isinstance(value, list | str) and not mime.endswith("json") else value
        for mime, value in data.items()
    }


def _output(raw: Any, field: str) -> dict[str, Any]:
    """One nbformat output in the shape the kernel itself produces."""
    if not isinstance(raw, dict):
        raise InvalidInput("an output is an object", field=field)
    kind = raw.get("output_type")
    if kind == "stream":
        if raw.get("name") not in _STREAMS:
            raise InvalidInput("a stream output is named stdout or stderr", field=f"{field}.name")
        return {"output_type": kind, "name": raw["name"], "text": _text(raw.get("text", ""), f"{field}.text")}
    if kind in ("display_data", "execute_result"):
        metadata = raw.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise InvalidInput("output metadata is an object", field=f"{field}.metadata")
        return {"output_type": kind, "data": _bundle(raw.get("data"), f"{field}.data"), "metadata": metadata}
    if kind == "error":
        traceback = raw.get("traceback") or []
        if not isinstance(traceback, list) or not all(isinstance(line, str) for line in traceback):
            raise InvalidInput("an error's traceback is a list of strings", field=f"{field}.traceback")
        return {"output_type": kind, "ename": str(raw.get("ename", "")), "evalue": str(raw.get("evalue", "")),
                "traceback": traceback}
    if isinstance(kind, str) and kind:
        # An output type from a later nbformat: said so where it stands; the file form keeps the output itself.
        return {"output_type": "display_data", "metadata": {},
                "data": {"text/plain": f"[an output of type {kind[:100]!r} that Quire cannot show;"
                                       " it is kept and exported as it came]"}}
    raise InvalidInput("an output has an output_type", field=f"{field}.output_type")


def _precheck(raw: Any) -> None:
    """What the engine's reader would accept or silently mend, refused here with the field named."""
    if not isinstance(raw, dict):
        raise InvalidInput("an .ipynb file is a JSON object", field="file")
    major = raw.get("nbformat", 4)
    if major == 3:
        return  # no cells list and no cell ids: the reader upgrades it, then its cells are checked one by one
    if major != 4:
        raise InvalidInput(f"this file is nbformat {major!r:.20}; nbformat 3 and 4 are read (open it in Jupyter"
                           " and save it to upgrade it)", field="nbformat")
    cells = raw.get("cells")
    if not isinstance(cells, list):
        raise InvalidInput("an .ipynb file has a 'cells' list", field="cells")
    check_cell_count(len(cells))
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InvalidInput("notebook metadata is an object", field="metadata")
    for section in ("language_info", "kernelspec", "quire"):
        if not isinstance(metadata.get(section) or {}, dict):
            raise InvalidInput(f"metadata.{section} is an object", field=f"metadata.{section}")
    if "config" in metadata:
        check_config(metadata["config"], field="metadata.config")
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        where = f"cells[{index}]"
        if not isinstance(cell, dict):
            raise InvalidInput("a cell is a JSON object", field=where)
        metadata = cell.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise InvalidInput("cell metadata is an object", field=f"{where}.metadata")
        cell_id = cell.get("id")
        if isinstance(cell_id, str):
            if cell_id in seen:
                raise InvalidInput(f"duplicate cell id {cell_id!r}", field=f"{where}.id")
            seen.add(cell_id)


def _outputs_digest(outputs: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(outputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def _file_form(parsed: Cell, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """What a cell's file held beyond id, language, source, metadata and outputs, to write back on export."""
    kind = parsed.raw.get("cell_type")
    if parsed.foreign:
        # A cell that cannot run here is written back whole: its own type, language and outputs.
        whole: dict[str, Any] = {"cell": {k: v for k, v in parsed.raw.items() if k not in ("id", "source", "metadata")}}
        return {**whole, "sourceless": True} if "source" not in parsed.raw else whole
    form: dict[str, Any] = {}
    if kind == "raw":
        form["cell_type"] = "raw"
    if kind in ("markdown", "raw") and isinstance(parsed.raw.get("attachments"), dict):
        form["attachments"] = parsed.raw["attachments"]
    extra = {k: v for k, v in parsed.raw.items() if k not in _CELL_KEYS[kind]}
    if extra:
        form["keys"] = extra
    if kind == "code" and (parsed.raw.get("execution_count") is not None or outputs):
        # The file's count stands while the cell shows the outputs it came with.
        form["execution_count"] = parsed.raw.get("execution_count")
        form["outputs"] = _outputs_digest(outputs)
        if any(not isinstance(o, dict) or set(o) - KNOWN_OUTPUTS.get(o.get("output_type"), set())
               for o in parsed.raw.get("outputs") or []):
            # Output types or keys from a later nbformat: written back as they came.
            form["file_outputs"] = parsed.raw["outputs"]
    return form


def parse_ipynb(data: bytes, *, name: str = "notebook.ipynb") -> ParsedFile:
    """Cells, config and a title from an .ipynb file; InvalidInput naming the field for anything wrong."""
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"an imported file is limited to {MAX_IMPORT_BYTES} bytes", field="file")
    # Nesting, NUL bytes, lone surrogates and non-finite numbers are refused anywhere in the file, by field.
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name} is not UTF-8 text: {exc}", field="file") from None
    raw = parse_json(text, root="file")
    _precheck(raw)
    try:
        document = parse_notebook(text, name=name)
    except NotebookFormatError as exc:
        raise InvalidInput(str(exc), field="file") from None
    config = check_config(document.config, field="metadata.config")
    cells: list[dict[str, Any]] = []
    used: set[str] = set()
    for index, parsed in enumerate(document.cells):
        where = f"cells[{index}]"
        # The reader numbers cells that had no id ("cell-3"), which could meet a real id further down.
        cell_id = parsed.id if parsed.id not in used and CELL_ID.match(parsed.id) else new_cell_id()
        used.add(cell_id)
        metadata = {k: v for k, v in (parsed.raw.get("metadata") or {}).items()
                    if parsed.foreign or k not in ("language", FILE_FORM)}
        raw_outputs = [] if parsed.foreign else parsed.raw.get("outputs") or []
        if not isinstance(raw_outputs, list):
            raise InvalidInput("outputs is a list", field=f"{where}.outputs")
        outputs = [_output(out, f"{where}.outputs[{i}]") for i, out in enumerate(raw_outputs)]
        form = _file_form(parsed, outputs)
        if form:
            metadata[FILE_FORM] = form
        if json_size(metadata) > MAX_METADATA_BYTES:
            raise InvalidInput(f"cell metadata is limited to {MAX_METADATA_BYTES} bytes", field=f"{where}.metadata")
        cells.append({
            "id": cell_id,
            "language": check_language(parsed.language, field=f"{where}.language"),
            "source": check_source(parsed.source, field=f"{where}.source"),
            "metadata": metadata,
            "outputs": outputs,
        })
    check_draft_size(cells, config)
    file_metadata = dict(document.raw.get("metadata") or {})
    quire = file_metadata.pop("quire", None) or {}
    file_metadata.pop("config", None)
    title = quire.get("title") if isinstance(quire, dict) and isinstance(quire.get("title"), str) else ""
    stem = name.rsplit("/", 1)[-1].removesuffix(".ipynb")
    # nbformat 3 files are checked as upgraded, against the schema of the nbformat 4 minor they became.
    problems = validation_errors(document.raw)
    return ParsedFile(title=(title or stem or "Imported notebook")[:MAX_TITLE], cells=cells, config=config,
                      metadata=file_metadata, problems=problems)


def check_import(
    user: Account, data: bytes, *, name: str = "notebook.ipynb", title: str = "", team: int | str | None = None
) -> Notebook:
    """A new notebook (and its first version, outputs included) from an .ipynb file; nothing if it is invalid."""
    return check_import_file(user, data, name=name, title=title, team=team).notebook


@dataclass(frozen=True)
class Imported:
    notebook: Notebook
    # Where the file breaks nbformat's schema for its version (read all the same, as nbformat reads it).
    problems: list[str]


@transaction.atomic
def check_import_file(
    user: Account, data: bytes, *, name: str = "notebook.ipynb", title: str = "", team: int | str | None = None
) -> Imported:
    """check_import, also saying where the file breaks nbformat's schema."""
    if len(check_text(name, field="file")) > MAX_FILE_NAME:
        raise InvalidInput(f"a file name has at most {MAX_FILE_NAME} characters", field="file")
    parsed = parse_ipynb(data, name=name)
    team_id = resolve_team(user, team)
    title = check_title(title or parsed.title)
    now = timezone.now().isoformat()
    draft = [{**cell, "outputs_at": now} for cell in parsed.cells]
    notebook = do_create_notebook(user, title=title, team_id=team_id, cells=draft, config=parsed.config)
    notebook.file_metadata = parsed.metadata
    notebook.save(update_fields=["file_metadata"])
    do_snapshot_version(notebook, author=user, message=f"Imported from {name}", cells=parsed.cells,
                        config=parsed.config)
    do_record(notebook, actor=user, action=AuditEntry.Action.IMPORTED, target=f"notebook:{notebook.pk}",
              detail={"file": name, "cells": len(parsed.cells), "problems": parsed.problems})
    return Imported(notebook=notebook, problems=parsed.problems)


def _notebook_language(cells: list[dict[str, Any]]) -> str:
    """The language most code cells are in (Python when there are none): it names the kernelspec."""
    counts = Counter(c["language"] for c in cells if c["language"] in KERNELSPECS)
    return counts.most_common(1)[0][0] if counts else "python"


def _export_cell(cell: dict[str, Any], count: int) -> tuple[dict[str, Any], int]:
    """One cell in the file's form, and the running execution count after it."""
    metadata = dict(cell.get("metadata") or {})
    form = metadata.pop(FILE_FORM, None)
    form = form if isinstance(form, dict) else {}
    outputs = cell.get("outputs") or []
    if isinstance(form.get("cell"), dict):
        out = {**form["cell"], "id": cell["id"], "metadata": metadata, "source": cell["source"]}
        if form.get("sourceless") and not cell["source"]:
            del out["source"]  # a future cell type need not have one
        return out, count
    is_text = cell["language"] == "text"
    if is_text:
        metadata["language"] = "text"  # the writer adds it for code cells only
        kind = "raw" if form.get("cell_type") == "raw" else "markdown"
    else:
        kind = "code"
    source = Cell(id=cell["id"], language=cell["language"], source=cell["source"],
                  raw={"cell_type": kind, "metadata": metadata})
    found_keys = form.get("keys")
    keys: dict[str, Any] = found_keys if isinstance(found_keys, dict) else {}
    if is_text:
        out = {**keys, **cell_json(source, outputs=None, execution_count=None)}
        if isinstance(form.get("attachments"), dict):
            out["attachments"] = form["attachments"]
        return out, count
    kept = "execution_count" in form and form.get("outputs") == _outputs_digest(outputs)
    if kept:
        number = form["execution_count"]
    elif cell.get("execution_count") is not None:
        number = cell["execution_count"]  # the run's own `[n]` in its kernel session
    elif outputs:
        # Outputs of a run recorded before runs were counted: numbered in the file's order.
        count += 1
        number = count
    else:
        number = None
    written = nbformat_outputs(outputs, number) if outputs else []
    if kept and isinstance(form.get("file_outputs"), list):
        written = form["file_outputs"]
    return {**keys, **cell_json(source, outputs=written, execution_count=number)}, count


def export_ipynb(
    *, notebook: Notebook, cells: list[dict[str, Any]], config: dict[str, Any], version: int | None
) -> dict[str, Any]:
    """An nbformat 4.5 notebook in Polynote's flavour: metadata.language per cell, metadata.config, lines as lists.

    What the imported file held (notebook metadata, raw cells, attachments, execution counts, cells that cannot
    run here) is written back as it came.
    """
    raw_cells: list[dict[str, Any]] = []
    count = 0
    for cell in cells:
        out, count = _export_cell(cell, count)
        raw_cells.append(out)
    metadata = copy.deepcopy(notebook.file_metadata or {})
    language = _notebook_language(cells)
    metadata.setdefault("kernelspec", KERNELSPECS[language])
    metadata.setdefault("language_info", LANGUAGE_INFO[language])
    metadata["config"] = config
    metadata["quire"] = {"notebook_id": notebook.pk, "title": notebook.title, "version": version}
    document = notebook_json(NotebookDocument(cells=[], raw={"metadata": metadata, "nbformat": 4}), raw_cells)
    return split_lines(document)


def check_export(user: Account, notebook_id: int, *, version: int | None = None) -> tuple[Notebook, dict[str, Any]]:
    """The draft (with its current outputs) or one version as an .ipynb document; any reader may export."""
    notebook, _ = get_notebook(user, notebook_id)
    if version is None:
        return notebook, export_ipynb(notebook=notebook, cells=snapshot_cells(notebook), config=notebook.config,
                                      version=None)
    stored = version_of(notebook, version)
    return notebook, export_ipynb(notebook=notebook, cells=stored.cells, config=stored.config, version=version)
