"""IPython's display system routed to the running cell, set up when cell code first imports IPython.

`IPython.display.display`, `update_display`, `clear_output` and `DisplayHandle` publish through
`InteractiveShell.instance().display_pub` once a shell exists (and merely print without one), so the
kernel creates a quiet shell (no history file, `__main__` left alone) whose publisher is the cell's
output sink and whose formatter tries the platform's formatters (tables, figures) before IPython's.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from kernels.core import display as display_mod
from kernels.core import import_hooks, publish

_installed = False


def _make_shell() -> Any:
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.formatters import DisplayFormatter
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class CellDisplayPublisher(DisplayPublisher):  # type: ignore[misc]
        """Publishes to the running cell's outputs."""

        def publish(
            self,
            data: dict[str, Any],
            metadata: dict[str, Any] | None = None,
            source: Any = None,
            *,
            transient: dict[str, Any] | None = None,
            update: bool = False,
            **kwargs: Any,
        ) -> None:
            self._validate_data(data, metadata)
            sink = publish.current_sink()
            sink.emit_bundle(display_mod.json_ready(data), dict(metadata or {}), transient=transient, update=update)

        def clear_output(self, wait: bool = False) -> None:
            publish.clear_output(wait)

    class CellDisplayFormatter(DisplayFormatter):  # type: ignore[misc]
        """The platform's formatters first (tables keep their pager, figures their PNG), then IPython's."""

        def format(self, obj: Any, include: Any = None, exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
            if display_mod.registered_formatter(obj) is not None:
                return publish.current_sink().bundle(obj, include=include, exclude=exclude)
            return super().format(obj, include=include, exclude=exclude)  # type: ignore[no-any-return]

    # The shell makes a profile folder; the kernel's is throwaway, not one more folder among the notebook's files.
    os.environ.setdefault("IPYTHONDIR", tempfile.mkdtemp(prefix="quire-ipython-"))
    config = Config()
    config.HistoryManager.enabled = False  # no SQLite file in the kernel's home
    shell = InteractiveShell.instance(config=config, user_module=sys.modules["__main__"])
    shell.display_pub = CellDisplayPublisher(shell=shell, parent=shell)
    shell.display_formatter = formatter = CellDisplayFormatter(parent=shell)
    display_mod.use_protocol_formatter(lambda value: DisplayFormatter.format(formatter, value))
    return shell


def install() -> None:
    """Create the shell now (IPython is imported)."""
    global _installed
    if _installed:
        return
    _installed = True
    try:
        _make_shell()
    except Exception as exc:  # an IPython this code does not know: say so in the cell that imported it
        sys.stderr.write(
            f"[quire: IPython's display() could not be routed to cell outputs ({type(exc).__name__}: {exc}); "
            "it will print plain text]\n"
        )


def watch_for_ipython() -> None:
    """Hook IPython's display system into the cells: now if it is loaded, else when a cell imports it."""
    import_hooks.after_import("IPython", lambda _module: install())
