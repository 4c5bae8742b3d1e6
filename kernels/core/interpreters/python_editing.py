"""Python editing help: completions, parameter hints and hovers with jedi over a cell's live scope."""

from __future__ import annotations

from typing import Any

from kernels.core.interpreters.base import Completion, Hover, SignatureHelp, word_at

MAX_DOC_CHARS = 2000


def line_column(code: str, pos: int) -> tuple[int, int]:
    """A 0-based offset as jedi's position: 1-based line, 0-based column."""
    pos = max(0, min(pos, len(code)))
    before = code[:pos]
    line = before.count("\n") + 1
    column = pos - (before.rfind("\n") + 1)
    return line, column


def _script(code: str, namespace: dict[str, Any]) -> Any:
    import jedi  # imported on first completion: it costs tens of MB an idle kernel should not pay

    return jedi.Interpreter(code, [namespace])


def complete(code: str, pos: int, namespace: dict[str, Any]) -> list[Completion]:
    line, column = line_column(code, pos)
    try:
        found = _script(code, namespace).complete(line, column)
    except Exception:  # jedi fails on odd code; no completions is the right answer there
        return []
    return [Completion(label=c.name, kind=c.type, detail=c.description) for c in found]


def signatures(code: str, pos: int, namespace: dict[str, Any]) -> list[SignatureHelp]:
    line, column = line_column(code, pos)
    try:
        found = _script(code, namespace).get_signatures(line, column)
    except Exception:
        return []
    result: list[SignatureHelp] = []
    for sig in found:
        try:
            doc = sig.docstring(raw=True)
        except Exception:
            doc = ""
        result.append(
            SignatureHelp(
                label=sig.to_string(),
                params=tuple(p.to_string() for p in sig.params),
                active_param=sig.index,
                doc=doc[:MAX_DOC_CHARS],
            )
        )
    return result


# A name can infer to several definitions (a union); past a few the hover stops helping.
MAX_HOVER_DEFINITIONS = 3


def hover(code: str, pos: int, namespace: dict[str, Any]) -> Hover | None:
    span = word_at(code, pos)
    if span is None:
        return None
    line, column = line_column(code, pos)
    try:
        found = _script(code, namespace).infer(line, column)[:MAX_HOVER_DEFINITIONS]
        heads, docs = [], []
        for name in found:
            signatures = name.get_signatures()
            if signatures:
                heads += [sig.to_string() for sig in signatures]
            elif name.type == "instance":
                heads.append(f"{code[span[0]:span[1]]}: {name.name}")
            else:
                heads.append(f"{name.type} {name.full_name or name.name}")
            if name.type != "instance":
                doc = name.docstring(raw=True)
                if doc:
                    docs.append(doc[:MAX_DOC_CHARS])
    except Exception:  # jedi fails on odd code; no hover is the right answer there
        return None
    if not heads:
        return None
    text = "```python\n" + "\n".join(dict.fromkeys(heads)) + "\n```"
    if docs:
        text += "\n\n" + "\n\n".join(dict.fromkeys(docs))
    return Hover(text=text, start=span[0], end=span[1])
