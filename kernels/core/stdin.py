"""input() and getpass() in cells: they ask the person at the page, or say plainly why no one can answer."""

from __future__ import annotations

import builtins
import contextlib
import getpass
import sys
from collections.abc import Callable, Iterator

# Asks the question (prompt, is it a password) and returns the answer; raises to refuse.
Ask = Callable[[str, bool], str]

NO_ONE_TO_ASK = "this kernel has no one to answer {what} (a headless run, or a host that cannot ask the page)"


def _refuse(what: str) -> Ask:
    def ask(prompt: str, password: bool) -> str:
        raise EOFError(NO_ONE_TO_ASK.format(what=what))

    return ask


@contextlib.contextmanager
def answering(ask: Ask | None) -> Iterator[None]:
    """While a cell runs, input() and getpass.getpass() go to `ask` (or raise EOFError saying why they cannot)."""

    def cell_input(prompt: object = "") -> str:
        text = str(prompt)
        answer = (ask or _refuse("input()"))(text, False)
        # Kept beside its prompt, as a terminal shows it.
        sys.stdout.write(f"{text}{answer}\n")
        return answer

    def cell_getpass(prompt: str = "Password: ", stream: object = None) -> str:
        answer = (ask or _refuse("getpass()"))(str(prompt), True)
        sys.stdout.write(f"{prompt}\n")  # the prompt only: a password is never echoed
        return answer

    saved = builtins.input, getpass.getpass
    builtins.input, getpass.getpass = cell_input, cell_getpass
    try:
        yield
    finally:
        builtins.input, getpass.getpass = saved
