"""Exception types raised by the execution engine and its wire protocol."""

from __future__ import annotations


class EngineError(Exception):
    """Base class for every error the engine raises on purpose."""


class ProtocolError(EngineError):
    """A frame or message that does not follow the kernel wire protocol."""


class FrameTooLarge(ProtocolError):
    """A frame whose declared length exceeds the protocol's maximum."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size:,} bytes exceeds the {limit:,} byte limit")
        self.size = size
        self.limit = limit


class UnknownLanguage(EngineError):
    """A cell language that no interpreter is registered for."""

    def __init__(self, language: str, known: list[str]) -> None:
        super().__init__(f"no interpreter for language {language!r} (this kernel runs: {', '.join(known)})")
        self.language = language


class CellNotInOrder(EngineError):
    """An execute/complete request whose cell id is missing from the notebook order it carries."""

    def __init__(self, cell_id: str) -> None:
        super().__init__(f"cell {cell_id!r} is not in the notebook order sent with the request")
        self.cell_id = cell_id


class NotebookFormatError(EngineError):
    """A notebook file the headless runner cannot read (not JSON, not a notebook, bad cell)."""


class ParameterError(EngineError):
    """A malformed `-p name=value` parameter given to the headless runner."""


class HeadlessError(EngineError):
    """A one-line reason a headless run could not start or its results could not be written."""
