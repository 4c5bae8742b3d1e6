"""How many third-party .ipynb files Quire keeps, round-trips losslessly and exports valid; what the others lose.

Run: `.venv/bin/python benchmarks/ipynb_fidelity.py` (no server or database needed).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")


def main() -> None:
    import django

    django.setup()
    from tests.notebooks.fidelity import corpus, measure

    results = [measure(path) for path in corpus()]
    kinds: Counter[str] = Counter()
    for result in results:
        status = "lossless" if result.lossless else ("kept" if result.kept else "refused")
        print(f"{status:9} {'valid' if result.valid else '     '} {result.name}")
        for line in result.refused and [result.refused] or result.lost[:3] + result.invalid[:2]:
            print(f"          {line[:150]}")
        for line in result.lost:
            kinds[line.split(" ")[0].split(".", 1)[-1] if line.startswith("cells[") else line.split(" ")[0]] += 1
    total = len(results)
    print(f"\n{total} files: kept {sum(r.kept for r in results)}, lossless {sum(r.lossless for r in results)},"
          f" exports valid {sum(r.valid for r in results)}")
    print("losses by kind:", dict(kinds.most_common()))


if __name__ == "__main__":
    main()
