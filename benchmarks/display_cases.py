"""How many of issue 19's 33 display-protocol cases a Python cell gets right, and how many the page then shows.

Each case runs its cells on a kernel engine (kernels.core.engine.Engine, what a kernel process runs) and checks
the outputs as the page folds them (display updates and clears applied); "shown" also needs the page's code to
have what draws them (a renderer for the MIME type in frontend/src/components/MimeView.ts, ANSI colours, the
input prompt, display updates). `--root` measures another checkout of the project, e.g. an older commit
unpacked with `git archive <commit> | tar -x -C /tmp/before`, with this venv's packages:

    .venv/bin/python benchmarks/display_cases.py [--root /tmp/before]
"""

from __future__ import annotations

import base64
import inspect
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _checkout import main as checkout_main

ESC = "\x1b"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
Outputs = list[dict[str, Any]]


@dataclass
class Case:
    name: str
    cells: list[str]
    # Given each cell's outputs, folded as the page shows them: whether the case is right.
    check: Callable[[list[Outputs]], bool]
    # What the page needs to show it: ("mime", type) a renderer, ("src", text) code that mentions it.
    page: list[tuple[str, str]] = field(default_factory=list)


def _data(outputs: Outputs, kind: str | None = None) -> list[dict[str, Any]]:
    return [o["data"] for o in outputs if "data" in o and (kind is None or o["output_type"] == kind)]


def _only(outputs: Outputs, mime: str, test: Callable[[Any], bool] = lambda v: True) -> bool:
    shown = _data(outputs)
    return len(shown) == 1 and mime in shown[0] and test(shown[0][mime])


def _text(outputs: Outputs, name: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream" and o["name"] == name)


IPY = "from IPython.display import display, HTML, Markdown, Image, JSON, Latex, SVG, Javascript, clear_output, update_display\n"

CASES = [
    Case("display(HTML)", [IPY + "display(HTML('<b>bold</b>'))"],
         lambda o: _only(o[0], "text/html", lambda v: v == "<b>bold</b>"), [("mime", "text/html")]),
    Case("display(Markdown)", [IPY + "display(Markdown('*m*'))"],
         lambda o: _only(o[0], "text/markdown"), [("mime", "text/markdown")]),
    Case("display(Image)", [IPY + f"display(Image(data={PNG!r}))"],
         lambda o: _only(o[0], "image/png", lambda v: base64.b64decode(v) == PNG), [("mime", "image/png")]),
    Case("display(JSON)", [IPY + "display(JSON({'a': [1, 2]}))"],
         lambda o: _only(o[0], "application/json", lambda v: v == {"a": [1, 2]}), [("mime", "application/json")]),
    Case("display(Latex)", [IPY + "display(Latex(r'$\\alpha^2$'))"],
         lambda o: _only(o[0], "text/latex"), [("mime", "text/latex")]),
    Case("display(SVG)", [IPY + "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"/>'))"],
         lambda o: _only(o[0], "image/svg+xml"), [("mime", "image/svg+xml")]),
    Case("display(Javascript)", [IPY + "display(Javascript('document.body.textContent = 1'))"],
         lambda o: _only(o[0], "application/javascript"), [("mime", "application/javascript")]),
    Case("display(raw bundle)", [IPY + "display({'text/markdown': '**r**', 'text/plain': 'r'}, raw=True)"],
         lambda o: _only(o[0], "text/markdown", lambda v: v == "**r**"), [("mime", "text/markdown")]),
    Case("_repr_html_ object", ["class T:\n    def _repr_html_(self):\n        return '<i>t</i>'\nT()"],
         lambda o: _only(o[0], "text/html", lambda v: v == "<i>t</i>"), [("mime", "text/html")]),
    Case("_repr_mimebundle_ object",
         ["class T:\n    def _repr_mimebundle_(self, include=None, exclude=None):\n"
          "        return {'text/latex': '$x$', 'text/plain': 'x'}\nT()"],
         lambda o: _only(o[0], "text/latex"), [("mime", "text/latex")]),
    Case("_ipython_display_ object",
         [IPY + "class T:\n    def _ipython_display_(self):\n        display(Markdown('self-shown'))\nT()"],
         lambda o: _only(o[0], "text/markdown", lambda v: v == "self-shown"), [("mime", "text/markdown")]),
    Case("display_id + handle.update",
         [IPY + "h = display(Markdown('one'), display_id=True)\nh.update(Markdown('two'))"],
         lambda o: _only(o[0], "text/markdown", lambda v: v == "two"), [("src", "update_display_data")]),
    Case("update_display by id",
         [IPY + "display(HTML('a'), display_id='x')\nupdate_display(HTML('b'), display_id='x')"],
         lambda o: _only(o[0], "text/html", lambda v: v == "b"), [("src", "update_display_data")]),
    Case("one id shown twice, both updated",
         [IPY + "h = display(Markdown('a'), display_id=True)\nh.display(Markdown('a'))\nh.update(Markdown('z'))"],
         lambda o: [d.get("text/markdown") for d in _data(o[0])] == ["z", "z"], [("src", "update_display_data")]),
    Case("empty display filled later",
         [IPY + "h = display(display_id=True)\nh.update(Markdown('filled'))"],
         lambda o: [d.get("text/markdown") for d in _data(o[0]) if d] == ["filled"], [("src", "update_display_data")]),
    Case("clear_output()", [IPY + "print('gone')\nclear_output()\nprint('kept')"],
         lambda o: _text(o[0]) == "kept\n", [("src", "clear_output")]),
    Case("clear_output(wait=True) loop",
         [IPY + "for i in range(3):\n    clear_output(wait=True)\n    display(Markdown(f'step {i}'))"],
         lambda o: [d.get("text/markdown") for d in _data(o[0])] == ["step 2"], [("src", "clear_output")]),
    Case("input()", ["name = input('Name? ')\nprint('hi', name)"],
         lambda o: "hi Ada" in _text(o[0]), [("src", "input_request")]),
    Case("getpass()", ["import getpass\nsecret = getpass.getpass()\nprint(len(secret))"],
         lambda o: _text(o[0]).strip().endswith("3"), [("src", "input_request")]),
    Case("ANSI colours in stdout", [f"print('{ESC}[31mred{ESC}[0m')"],
         lambda o: f"{ESC}[31mred" in _text(o[0]), [("src", "ansi-")]),
    Case("ANSI colours in stderr", [f"import sys\nsys.stderr.write('{ESC}[1;33mwarn{ESC}[0m\\n')"],
         lambda o: f"{ESC}[1;33mwarn" in _text(o[0], "stderr"), [("src", "ansi-")]),
    Case("traceback", ["def f():\n    raise ValueError('bad')\nf()"],
         lambda o: any(x["output_type"] == "error" and x["ename"] == "ValueError" and x["traceback"] for x in o[0]),
         [("src", "ansi-")]),
    Case("matplotlib PNG", ["import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"],
         lambda o: _only(o[0], "image/png"), [("mime", "image/png")]),
    Case("matplotlib SVG",
         ["from kernels.core.publish import set_matplotlib_formats\nset_matplotlib_formats('svg')\n"
          "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"],
         lambda o: _only(o[0], "image/svg+xml"), [("mime", "image/svg+xml")]),
    Case("matplotlib retina",
         ["from kernels.core.publish import set_matplotlib_formats\nset_matplotlib_formats('retina')\n"
          "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\nfig"],
         lambda o: _only(o[0], "image/png") and bool(next(x for x in o[0] if "data" in x)["metadata"]),
         [("mime", "image/png"), ("src", "width")]),
    Case("a figure as the cell's value", ["import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nfig"],
         lambda o: _only(o[0], "image/png"), [("mime", "image/png")]),
    Case("display() after a guarded IPython import",
         ["try:\n    from IPython.display import display\nexcept ImportError:\n    pass", "display(42)"],
         lambda o: _only(o[1], "text/plain", lambda v: v == "42"), [("mime", "text/plain")]),
    Case("HTML in a later cell after a guarded import",
         ["try:\n    from IPython.display import display, HTML\nexcept ImportError:\n    pass", "x = 1",
          "from IPython.display import HTML\ndisplay(HTML('<p>later</p>'))"],
         lambda o: _only(o[2], "text/html"), [("mime", "text/html")]),
    Case("a DataFrame", ["import pandas as pd\npd.DataFrame({'a': [1, 2]})"],
         lambda o: _only(o[0], "text/html"), [("mime", "text/html")]),
    Case("pandas Styler", ["import pandas as pd\npd.DataFrame({'a': [1, 3]}).style.highlight_max(color='yellow')"],
         lambda o: _only(o[0], "text/html", lambda v: "yellow" in v), [("mime", "text/html")]),
    Case("tqdm.notebook bar",
         ["from tqdm.notebook import tqdm\nfor i in tqdm(range(3), mininterval=0):\n    pass"],
         lambda o: _only(o[0], "text/html", lambda v: "3/3" in v), [("mime", "text/html"), ("src", "update_display_data")]),
    Case("altair chart",
         ["import altair as alt, pandas as pd\nalt.Chart(pd.DataFrame({'a': [1, 2]})).mark_bar().encode(x='a:Q')"],
         lambda o: len(_data(o[0])) == 1, [("richest", "vega")]),
    Case("plotly figure", ["import plotly.graph_objects as go\ngo.Figure(go.Bar(y=[1, 2]))"],
         lambda o: len(_data(o[0])) == 1, [("richest", "plotly")]),
]
assert len(CASES) == 33


def _renderers(root: Path) -> list[str]:
    source = (root / "frontend/src/components/MimeView.ts").read_text()
    return re.findall(r"^\s*\['([^']+)',", source, flags=re.M)


def _frontend_source(root: Path) -> str:
    return "\n".join(p.read_text() for p in (root / "frontend/src").rglob("*.ts"))


def _page_shows(root: Path, need: tuple[str, str], outputs: Outputs) -> bool:
    kind, value = need
    if kind == "mime":
        return value in _renderers(root)
    if kind == "src":
        return value in _frontend_source(root)
    # "richest": the richest type the page draws of the output must be that library's own (not HTML that
    # loads its script from a CDN, which the page's sandboxed frame on a machine without network cannot run).
    shown = _data(outputs)
    if not shown:
        return False
    richest = next((m for m in _renderers(root) if m in shown[0]), None)
    return richest is not None and value in richest


def run(root: Path) -> None:
    from kernels.core import protocol
    from kernels.core.engine import Engine

    try:
        from kernels.core.output_list import folded
    except ImportError:  # a checkout whose outputs are never folded: the page shows them as they come
        def folded(outputs: Outputs) -> Outputs:
            return list(outputs)

    def answer(exec_id: str, cell_id: str, prompt: str, password: bool) -> str:
        return "abc" if password else "Ada"

    options: dict[str, Any] = {"display_changes": True, "ask": answer}
    accepted = inspect.signature(Engine).parameters
    right = shown = 0
    for case in CASES:
        engine = Engine(**{k: v for k, v in options.items() if k in accepted})
        per_cell: list[Outputs] = []
        try:
            for index, source in enumerate(case.cells):
                events: list[Any] = []
                cell_id = f"c{index}"
                engine.execute(exec_id=f"x{index}", cell_id=cell_id, language="python", source=source,
                               order=[f"c{i}" for i in range(len(case.cells))], emit=events.append)
                per_cell.append(folded([e.output for e in events if isinstance(e, protocol.Output)]))
            ok = bool(case.check(per_cell))
        except Exception:
            ok = False
            traceback.print_exc(limit=1)
        finally:
            engine.shutdown()
        page = ok and all(_page_shows(root, need, per_cell[-1]) for need in case.page)
        right += ok
        shown += page
        print(f"{'shown' if page else 'right' if ok else 'wrong':6} {case.name}")
    print(f"\n{len(CASES)} display cases: {right} right in the kernel, {shown} shown by the page ({root})")


if __name__ == "__main__":
    checkout_main(__file__, __doc__.splitlines()[0], run)
