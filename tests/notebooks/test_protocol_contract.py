"""The browser protocol is one contract, its classes (kernels/messages.py): every publisher builds its events with
them, every message a test client receives fits them (tests/support.check_server_message), the consumer reads every
client message through them, and the front end's types and docs/protocol.md's table are generated from them."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import get_args

import pytest

from kernels import messages, protocol_codegen
from kernels.core import protocol as kernel_protocol
from kernels.core.exploration import EXPLORE_OPS
from kernels.events import publish
from kernels.models import Environment, KernelSession
from notebooks.consumers import HANDLERS
from notebooks.roles import LABELS
from notebooks.validation import LANGUAGES
from tests.support import check_server_message

REPO = Path(__file__).resolve().parents[2]
# Every module that builds messages for browsers, kernels or kernel hosts (kernels/core speaks only to hosts).
SOURCES = sorted([*REPO.glob("notebooks/*.py"), *REPO.glob("kernels/*.py"), *REPO.glob("runs/*.py")])


def _dict_events(path: Path) -> list[str]:
    """Every dict display of the module whose `type` is a server message type: an event built by hand."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (isinstance(key, ast.Constant) and key.value == "type" and isinstance(value, ast.Constant)
                        and value.value in messages.SERVER_MESSAGE_TYPES):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} {value.value}")
    return found


def test_no_event_is_built_as_a_dict() -> None:
    built = [found for path in SOURCES for found in _dict_events(path)]
    assert not built, f"events built as dicts, not with kernels.messages: {built}"


def test_a_dict_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(TypeError, match="not a server message"):
        publish(1, {"type": "cells_stale", "cell_ids": ["a"]})  # type: ignore[arg-type]


def test_every_client_message_has_a_handler_and_a_class() -> None:
    assert set(HANDLERS) == messages.CLIENT_MESSAGE_TYPES


def test_a_message_of_the_wrong_shape_breaks_the_contract_naming_its_field() -> None:
    """What the contract check does with each message a test client receives (tests/support.py)."""
    good = messages.Statement(cell_id="a1", line_start=3, line_end=4)
    assert check_server_message(messages.encode(good))["line_start"] == 3
    # A publisher that let a kernel's missing line numbers through.
    bad = messages.Statement(cell_id="a1", line_start=None, line_end=4)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="line_start"):
        check_server_message(messages.encode(bad))
    with pytest.raises(AssertionError, match=r"notebook\.cells\.0\.state"):
        check_server_message(json.dumps({"type": "snapshot", "notebook": {
            "id": 1, "title": "t", "revision": 1, "config": {},
            "cells": [{"id": "a", "language": "python", "source": "", "metadata": {}, "outputs": [], "state": "ok"}],
        }, "kernel": {"state": "idle"}, "you": {"username": "ada", "role": "owner"}}))
    # A field the contract does not know (the page would drop it) breaks it too.
    with pytest.raises(AssertionError, match="colour"):
        check_server_message(json.dumps({"type": "cells_stale", "cell_ids": [], "colour": "red"}))
    with pytest.raises(AssertionError, match="type"):
        check_server_message(json.dumps({"type": "cells_went_stale"}))


def test_a_client_message_is_read_into_its_class_or_refused_naming_the_field() -> None:
    read = messages.read_client_message({"v": 1, "type": "move_cell", "req": 4, "cell_id": "a1", "index": 2})
    assert read == messages.MoveCell(req=4, cell_id="a1", index=2)
    for message, field in (
        ({"type": "move_cell", "cell_id": "a1", "index": "2"}, "index"),
        ({"type": "move_cell", "cell_id": "a1", "index": True}, "index"),
        ({"type": "move_cell", "cell_id": "a1", "index": 2.0}, "index"),
        ({"type": "update_cell", "cell_id": "a1"}, "source"),
        ({"type": "focus", "cell_id": ["a1"]}, "cell_id"),
        ({"type": "explore", "cell_id": "a1", "op": "page", "args": []}, "args"),
    ):
        with pytest.raises(messages.MessageError) as refused:
            messages.read_client_message(message)
        assert refused.value.field == field, (message, refused.value.message)


def test_the_literal_types_are_the_ones_the_server_uses() -> None:
    assert set(get_args(messages.Language)) == set(LANGUAGES)
    assert get_args(messages.CellState) == kernel_protocol.CELL_STATES
    assert set(get_args(messages.KernelState)) == {"not_started", *KernelSession.State.values}
    assert get_args(messages.RoleName) == LABELS
    assert set(get_args(messages.EnvironmentState)) >= set(Environment.State.values)
    assert get_args(messages.ExploreOp) == EXPLORE_OPS


def test_the_front_ends_types_are_generated_from_the_classes() -> None:
    """frontend/tests/protocolContract.test.ts checks that the page has a handler for every server type in it."""
    assert protocol_codegen.TYPESCRIPT.read_text() == protocol_codegen.typescript(), (
        "frontend/src/generated/protocol.ts is stale: run python -m kernels.protocol_codegen"
    )


def test_the_protocol_pages_message_table_is_generated_from_the_classes() -> None:
    text = protocol_codegen.DOCS.read_text()
    assert protocol_codegen.docs_with_table(text) == text, (
        "docs/protocol.md's message table is stale: run python -m kernels.protocol_codegen"
    )


def test_the_protocol_page_shows_an_example_of_every_message_type() -> None:
    text = (REPO / "docs/protocol.md").read_text()
    missing = sorted(t for t in messages.SERVER_MESSAGE_TYPES | messages.CLIENT_MESSAGE_TYPES
                     if f'"type":"{t}"' not in text)
    assert not missing, f"docs/protocol.md has no example of: {missing}"
