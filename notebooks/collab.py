"""Cell sources as a CRDT (pycrdt, wire-compatible with Yjs): concurrent typists in one cell keep every keystroke.

The document holds a map `sources` from cell id to a Y.Text. The draft's `cells[*].source` is its plain-text
projection and stays the truth for everything else (runs, versions, exports). Every draft write brings the
document in line with the cells and broadcasts the resulting update, so Yjs clients and plain clients agree.
Collaborative edits are applied and logged by notebooks/ylog.py.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pycrdt import Doc, Map, Text

from notebooks.limits import MAX_UPDATE_BYTES, MAX_YDOC_BYTES
from notebooks.models import Notebook
from quire.lib.errors import InvalidInput

__all__ = ["MAX_UPDATE_BYTES", "MAX_YDOC_BYTES", "check_no_gap", "decode_update", "encode", "load", "sources", "sync"]


def load(notebook: Notebook) -> Doc:
    doc: Doc = Doc()
    state = bytes(notebook.ydoc or b"")
    if state:
        doc.apply_update(state)
    return doc


def sources(doc: Doc) -> Map:
    return doc.get("sources", type=Map)


def _splice(text: Text, new: str) -> None:
    """Turn `text` into `new` by replacing only the differing middle, so others' edits elsewhere survive."""
    old = str(text)
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    if end_old > start:
        del text[start:end_old]
    if end_new > start:
        text.insert(start, new[start:end_new])


def sync(notebook: Notebook) -> bytes | None:
    """Bring `notebook.ydoc` in line with the cells' sources; the update that did it, or None if none was needed."""
    doc = load(notebook)
    before = doc.get_state()
    texts = sources(doc)
    with doc.transaction():
        ids = {cell["id"] for cell in notebook.cells}
        for key in [k for k in texts.keys() if k not in ids]:
            del texts[key]
        for cell in notebook.cells:
            text = texts.get(cell["id"])
            if text is None:
                texts[cell["id"]] = Text(cell["source"])
            elif str(text) != cell["source"]:
                _splice(text, cell["source"])
    if doc.get_state() == before and notebook.ydoc:
        return None
    update = doc.get_update(before)
    notebook.ydoc = doc.get_update()
    return update


def _varuint(data: bytes, at: int) -> tuple[int, int]:
    """The unsigned LEB128 number at `at` (lib0's encoding, which Yjs uses) and where the next field starts."""
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("truncated number")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _state_vector(state: bytes) -> dict[int, int]:
    count, at = _varuint(state, 0)
    vector = {}
    for _ in range(count):
        client, at = _varuint(state, at)
        vector[client], at = _varuint(state, at)
    return vector


def check_no_gap(doc: Doc, update: bytes) -> None:
    """Refuse an update whose first changes start past what the document holds of their author.

    Such an update builds on changes the server never applied (one it refused before): the document would keep
    it aside, unapplied, and the edit would be acked with nothing changed, the client's text and the server's
    silently apart. A browser's update carries its own changes only, one run from one clock, which the first
    section of the update's header names.
    """
    try:
        sections, at = _varuint(update, 0)
        if sections == 0:
            return  # deletions only
        _, at = _varuint(update, at)  # how many structs the section has
        client, at = _varuint(update, at)
        clock, at = _varuint(update, at)
    except ValueError:
        raise InvalidInput("malformed CRDT update", field="update") from None
    if clock > _state_vector(doc.get_state()).get(client, 0):
        raise InvalidInput(
            "the update builds on changes the server does not have; reload the cell", field="update"
        )


def decode_update(raw: Any) -> bytes:
    if not isinstance(raw, str):
        raise InvalidInput("'update' is a base64 string", field="update")
    try:
        update = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("'update' is not valid base64", field="update") from None
    if len(update) > MAX_UPDATE_BYTES:
        raise InvalidInput(f"an update is limited to {MAX_UPDATE_BYTES} bytes", field="update")
    return update


def encode(update: bytes) -> str:
    return base64.b64encode(update).decode("ascii")
