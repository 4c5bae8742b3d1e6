"""Does class-data sharing (AppCDS) speed up a kernel's JVM start? Spark's session start and the Scala warm-up
(`Engine.warm_up(["scala"])`: the compiler and its first cell) in a fresh kernel process, with the JDK's default
CDS archive only and with an application archive of the classes a warm-up loads (JDK 13+ dynamic archive).

    .venv/bin/python benchmarks/jvm_cds_bench.py [--samples 5]

Method: one untimed run with `-XX:ArchiveClassesAtExit=<archive>` in `spark.driver.extraJavaOptions` writes the
archive when its JVM exits; then the timed samples alternate default / AppCDS (`-XX:SharedArchiveFile=<archive>`),
each in a fresh Python process (plain, no sandbox) with the same Spark settings as a pooled kernel's
(`local[2]`). Figures: seconds to `SparkSession` (JVM start and Spark's context) and to the warm-up's end.

2026-11-30, busy 2-core machine, 4 samples each: session 5.58 s median (min 4.58) with the default archive, 2.76 s
(min 2.64) with AppCDS; to the warm-up's end 12.67 s (min 10.71) and 6.99 s (min 6.56). Archive: 160.7 MiB.
Adopted as kernels/core/jvm_archive.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
from kernels.core.engine import Engine
options = sys.argv[1]
conf = {"spark.master": "local[2]"}
if options:
    conf["spark.driver.extraJavaOptions"] = options
engine = Engine(config={"sparkConfig": conf})
start = time.perf_counter()
engine.spark.session
session = time.perf_counter() - start
engine.warm_up(["scala"])
print("CDS " + json.dumps({"session": session, "warm": time.perf_counter() - start}))
engine.shutdown()
"""


def sample(options: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, options], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = next((line for line in out.stdout.splitlines() if line.startswith("CDS ")), None)
    if line is None:
        raise RuntimeError(f"the kernel process failed:\n{out.stdout}\n{out.stderr}")
    return dict(json.loads(line[4:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quire-cds-") as folder:
        archive = Path(folder) / "kernel-jvm.jsa"
        sample(f"-XX:ArchiveClassesAtExit={archive}")
        if not archive.is_file():
            raise SystemExit("the JVM wrote no archive")
        print(f"archive: {archive.stat().st_size / 2**20:.1f} MiB")
        kinds = {"default CDS": "", "AppCDS": f"-XX:SharedArchiveFile={archive}"}
        results: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
        for i in range(args.samples):
            for kind, options in kinds.items():
                results[kind].append(sample(options))
                print(f"{kind:12s} sample {i + 1}: {results[kind][-1]}", flush=True)
    print("\n== kernel JVM start, s (median, min)")
    for kind, rows in results.items():
        for phase in ("session", "warm"):
            values = [row[phase] for row in rows]
            print(f"{kind:12s} {phase:8s} median {statistics.median(values):6.2f}   min {min(values):6.2f}")


if __name__ == "__main__":
    main()
