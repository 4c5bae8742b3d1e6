"""Notebook state: each cell's recorded symbols, the scope a cell sees by position, and staleness."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kernels.core.display import short_repr
from kernels.core.errors import CellNotInOrder

OUT = "Out"


@dataclass(frozen=True)
class Symbol:
    """A value a cell defined, with where it came from (the language matters to Scala, later)."""

    name: str
    value: Any
    language: str
    cell_id: str
    # The type in the defining language when Python's type name would mislead (Scala's `Seq[Int]`).
    type_name: str | None = None

    def describe(self) -> dict[str, str]:
        return {
            "name": self.name,
            "language": self.language,
            "type": self.type_name or type(self.value).__name__,
            "repr": short_repr(self.value),
        }


class Scope(Mapping[str, Symbol]):
    """What a cell sees: read-only name -> Symbol, folded from the cells above it."""

    def __init__(self, symbols: dict[str, Symbol]) -> None:
        self._symbols = symbols

    def __getitem__(self, name: str) -> Symbol:
        return self._symbols[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)

    def values_dict(self) -> dict[str, Any]:
        """Plain name -> value, e.g. the start of a Python cell's namespace."""
        return {name: symbol.value for name, symbol in self._symbols.items()}


@dataclass
class CellRecord:
    """What the last run of a cell left behind."""

    cell_id: str
    language: str
    symbols: dict[str, Symbol] = field(default_factory=dict)
    reads: frozenset[str] = frozenset()


class NotebookState:
    """The per-cell records of one notebook session; the only state shared between cells."""

    def __init__(self) -> None:
        self._records: dict[str, CellRecord] = {}
        # Completions read scopes from a helper thread while the main thread stores results.
        self._lock = threading.Lock()

    def scope_for(self, cell_id: str, order: Sequence[str]) -> Scope:
        """Fold the records of the cells above `cell_id` in `order`, later definitions winning."""
        try:
            index = list(order).index(cell_id)
        except ValueError:
            raise CellNotInOrder(cell_id) from None
        folded: dict[str, Symbol] = {}
        with self._lock:
            for above in order[:index]:
                record = self._records.get(above)
                if record is not None:
                    folded.update(record.symbols)
        return Scope(folded)

    def record(self, record: CellRecord) -> CellRecord | None:
        """Store a cell's new record; returns the one it replaces."""
        with self._lock:
            previous = self._records.get(record.cell_id)
            self._records[record.cell_id] = record
        return previous

    def forget(self, cell_id: str) -> bool:
        with self._lock:
            return self._records.pop(cell_id, None) is not None

    def get(self, cell_id: str) -> CellRecord | None:
        with self._lock:
            return self._records.get(cell_id)

    def stale_below(self, cell_id: str, order: Sequence[str], changed: Iterable[str]) -> list[str]:
        """Cells below `cell_id` that read a changed name through it, transitively.

        A cell below that redefines a name shadows the change for the cells under it; a stale
        cell's own symbols count as changed for the cells under it.
        """
        ids = list(order)
        if cell_id not in ids:
            return []
        dirty = set(changed)
        stale: list[str] = []
        with self._lock:
            for below in ids[ids.index(cell_id) + 1 :]:
                if not dirty:
                    break
                record = self._records.get(below)
                if record is None:
                    continue
                if record.reads & dirty:
                    stale.append(below)
                    dirty |= record.symbols.keys()
                else:
                    dirty -= record.symbols.keys()
        return stale

    def __contains__(self, cell_id: object) -> bool:
        return cell_id in self._records
