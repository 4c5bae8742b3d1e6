"""How a cell's list of outputs changes as outputs arrive: updates replace by display id, clears empty it."""

from __future__ import annotations

from typing import Any

from kernels.core.protocol import CLEAR_OUTPUT, UPDATE_DISPLAY_DATA


def display_id(output: dict[str, Any]) -> str | None:
    transient = output.get("transient")
    value = transient.get("display_id") if isinstance(transient, dict) else None
    return value if isinstance(value, str) else None


def apply_output(outputs: list[dict[str, Any]], output: dict[str, Any]) -> None:
    """Fold one output into the list in place, as Jupyter's front ends do."""
    kind = output.get("output_type")
    if kind == CLEAR_OUTPUT:
        outputs.clear()
    elif kind == UPDATE_DISPLAY_DATA:
        target = display_id(output)
        for index, shown in enumerate(outputs):
            if shown.get("output_type") == "display_data" and display_id(shown) == target:
                outputs[index] = {**shown, "data": output["data"], "metadata": output.get("metadata", {})}
    else:
        outputs.append(output)


def folded(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outputs a cell shows once every update and clear is applied."""
    result: list[dict[str, Any]] = []
    for output in outputs:
        apply_output(result, output)
    return result
