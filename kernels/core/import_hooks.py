"""Run set-up code right after cell code first imports a module, so kernels that never use it do not pay for it.

IPython's display system, ipywidgets' comms and the display libraries' renderers are set up this way: each is
configured the moment its module has run, before the cell that imported it uses it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

Setup = Callable[[ModuleType], None]


class _Loader(importlib.abc.Loader):
    """The module's own loader, followed by its set-up once the module has run."""

    def __init__(self, inner: importlib.abc.Loader, setup: Setup) -> None:
        self._inner = inner
        self._setup = setup

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        self._setup(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _ImportWatcher(importlib.abc.MetaPathFinder):
    """Finds one module the usual way and wraps its loader; steps aside after that."""

    def __init__(self, name: str, setup: Setup) -> None:
        self.name = name
        self._setup = setup

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)  # every other finder, as the import would have used
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self._setup)
        return spec


def after_import(name: str, setup: Setup) -> None:
    """Call `setup(module)` once `name` is imported: now if it already is, else right after its first import."""
    module = sys.modules.get(name)
    if module is not None:
        setup(module)
    elif not any(isinstance(f, _ImportWatcher) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _ImportWatcher(name, setup))
