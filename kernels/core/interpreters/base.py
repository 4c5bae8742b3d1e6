"""The Interpreter interface every language implements, and the values passed across it."""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kernels.core.scope import Scope
from kernels.core.spark import SparkManager
from kernels.core.streams import OutputSink


class RunStatus(enum.Enum):
    DONE = "done"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class _NoOut:
    """Marks a run without a final value (distinct from a final value of None)."""

    def __repr__(self) -> str:
        return "NO_OUT"


NO_OUT: Any = _NoOut()


@dataclass
class RunContext:
    """What an interpreter gets besides code and scope: where to send outputs and progress."""

    exec_id: str
    cell_id: str
    filename: str
    sink: OutputSink
    # Called with 1-based, inclusive line numbers of the top-level statement about to run.
    on_statement: Callable[[int, int], None]


@dataclass
class RunResult:
    """The outcome of one run: the symbols it defined or rebound, its Out, what it read."""

    status: RunStatus
    defined: dict[str, Any] = field(default_factory=dict)
    out: Any = NO_OUT
    reads: frozenset[str] = frozenset()
    # The KeyboardInterrupt that stopped the run, for the engine to report where and why.
    interrupted: BaseException | None = None
    # Type names in the cell's own language (Scala's `List[Int]`), where Python's type name would mislead.
    types: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "kind": self.kind, "detail": self.detail}


# The most completions one reply carries; a longer list is cut and marked incomplete, so the editor asks again
# as the prefix grows instead of filtering a list that stops short.
MAX_COMPLETIONS = 200


@dataclass(frozen=True)
class CompletionList:
    items: tuple[Completion, ...]
    incomplete: bool

    @classmethod
    def cut(cls, found: list[Completion]) -> CompletionList:
        return cls(items=tuple(found[:MAX_COMPLETIONS]), incomplete=len(found) > MAX_COMPLETIONS)


@dataclass(frozen=True)
class SignatureHelp:
    label: str
    params: tuple[str, ...]
    active_param: int | None
    doc: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "params": list(self.params), "active_param": self.active_param, "doc": self.doc}


@dataclass(frozen=True)
class Hover:
    """What a symbol under the pointer is: Markdown text and the span of code it covers."""

    text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end}


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def word_at(code: str, pos: int) -> tuple[int, int] | None:
    """The [start, end) of the identifier holding the character at `pos`, or None off identifiers."""
    if not 0 <= pos < len(code) or not _word_char(code[pos]):
        return None
    start, end = pos, pos + 1
    while start > 0 and _word_char(code[start - 1]):
        start -= 1
    while end < len(code) and _word_char(code[end]):
        end += 1
    return None if code[start].isdigit() else (start, end)


@dataclass(frozen=True)
class InterpreterEnv:
    """Given to interpreter factories: the notebook's config (Spark, dependencies) and limits."""

    config: Mapping[str, Any] = field(default_factory=dict)
    output_limit: int = 2 * 1024 * 1024
    # Shared by every language: the notebook's one Spark session, started when a cell needs it.
    spark: SparkManager = field(default_factory=SparkManager)


# The hidden cell a kernel runs an interpreter's warm-up as (Engine.warm_up); no notebook's cell id looks like it.
WARM_UP_CELL = "quire-warm-up"


class Interpreter(abc.ABC):
    """One language. Created lazily, on the first cell of that language, and may own heavy state
    (a JVM, a compiler); values it defines go into the shared per-cell scope as Python values
    or proxies, so every other language can read them."""

    language: ClassVar[str]
    # False for languages whose source is kept but never run (text).
    executes: ClassVar[bool] = True
    # A cell that brings up what this language's first cell would wait for (Scala: a JVM and a compiler), run
    # before any notebook is known (Engine.warm_up); empty when there is nothing to start ahead.
    warm_up_source: ClassVar[str] = ""

    @abc.abstractmethod
    def run(self, code: str, scope: Scope, context: RunContext) -> RunResult:
        """Run a cell's code against the scope above it; must not raise for user errors."""

    def complete(self, code: str, pos: int, scope: Scope) -> list[Completion]:
        return []

    def signature(self, code: str, pos: int, scope: Scope) -> list[SignatureHelp]:
        return []

    def hover(self, code: str, pos: int, scope: Scope) -> Hover | None:
        """The type and docs of the symbol at the character `pos`, or None where there is nothing to say."""
        return None

    def check(self, code: str, scope: Scope) -> list[dict[str, Any]]:
        """Errors the compiler finds without running the code, as underline positions (tracebacks.position)."""
        return []

    def interrupt(self) -> None:  # noqa: B027 - optional hook, most languages need nothing here
        """Stop work the main-thread KeyboardInterrupt cannot reach (a Spark job, say)."""

    def forget_warm_up(self, cell_id: str) -> None:  # noqa: B027 - optional hook, for languages with a warm-up
        """Drop whatever the warm-up cell `cell_id` left in the interpreter beyond the engine's scope (compiled
        classes, counters), so the notebook that gets the kernel finds it as if nothing had run."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release what the interpreter owns (JVM sessions, connections)."""
