"""Numbered broadcasts: what numbering costs a notebook event, publish to receipt, against a plain group_send.

Runs against the Redis of REDIS_URL (default: the benchmarks' database on 127.0.0.1:6379) with one listener in
the same process, as a server's connection hears its notebook's group. Prints p50/p99 in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]


def _setup(redis_url: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    os.environ["REDIS_URL"] = redis_url
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/quire_bench")
    import django

    django.setup()


async def _measure(numbered: bool, count: int) -> list[float]:
    from kernels.events import _envelope, group_name, stream_key
    from kernels.messages import CellUpdated
    from quire.lib.live import group_send_numbered, live_layer

    layer = live_layer()
    channel = await layer.new_channel()
    group = group_name(10**9 - 1)
    await layer.group_add(group, channel)
    await asyncio.sleep(0.2)
    envelope = _envelope(CellUpdated(cell_id="a1", source="x = 1" * 20, revision=7,
                                     ydoc_update="AQHk0sTRDQAEAQZzb3VyY2VzAXgA"))
    times = []
    for _ in range(count):
        start = time.perf_counter()
        if numbered:
            await group_send_numbered(group, stream_key(10**9 - 1), envelope)
        else:
            await layer.group_send(group, envelope)
        await layer.receive(channel)
        times.append((time.perf_counter() - start) * 1e6)
    await layer.group_discard(group, channel)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--count", type=int, default=3000)
    args = parser.parse_args()
    _setup(args.redis)
    for numbered in (False, True, False, True):
        times = asyncio.run(_measure(numbered, args.count))[200:]
        cut = statistics.quantiles(times, n=100)
        print(f"{'numbered' if numbered else 'plain   '}  p50 {cut[49]:7.1f} us  p99 {cut[98]:7.1f} us"
              f"  ({len(times)} events, publish to receipt)")


if __name__ == "__main__":
    main()
