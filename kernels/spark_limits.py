"""Clamping a notebook's Spark settings to its quota, with a note for every value lowered."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)b?\s*$", re.IGNORECASE)
_MIB_PER_UNIT = {"": 1 / (1024 * 1024), "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
_LOCAL = re.compile(r"^local\[(\*|\d+)(?:,\s*(\d+))?\]$")


@dataclass(frozen=True)
class SparkQuota:
    executors: int
    cores: int
    memory_mb: int
    driver_memory_mb: int

    @classmethod
    def for_kernel(cls, *, executors: int, cores: int, memory_mb: int, kernel_memory_mb: int) -> SparkQuota:
        """A kernel's Spark quota from its limits."""
        # The driver lives in the kernel's sandbox: its heap must leave room under the data limit.
        return cls(executors=executors, cores=cores, memory_mb=memory_mb,
                   driver_memory_mb=max(256, kernel_memory_mb // 2))


def _mib(value: str) -> float | None:
    """Spark's size strings ("4g", "512m", "1024") in MiB; a bare number is bytes, as in Spark."""
    match = _SIZE.match(value)
    if match is None:
        return None
    number, unit = int(match.group(1)), match.group(2).lower()
    if unit == "":
        return number / (1024 * 1024)
    return number * _MIB_PER_UNIT[unit]


def clamp(spark_config: Mapping[str, object], quota: SparkQuota) -> tuple[dict[str, str], list[str]]:
    """The notebook's Spark settings within the quota, and what was lowered (for the user)."""
    conf = {str(k): str(v) for k, v in spark_config.items()}
    notes: list[str] = []

    def lower(key: str, value: str, shown: str) -> None:
        notes.append(f"{key} lowered from {conf.get(key)} to {shown} by your quota")
        conf[key] = value

    counts = {
        "spark.executor.instances": quota.executors,
        "spark.dynamicAllocation.maxExecutors": quota.executors,
        "spark.executor.cores": quota.cores,
        "spark.cores.max": quota.executors * quota.cores,
    }
    for key, cap in counts.items():
        if key in conf:
            try:
                wanted = int(conf[key])
            except ValueError:
                lower(key, str(cap), str(cap))
                continue
            if wanted > cap:
                lower(key, str(cap), str(cap))
    for key, cap_mb in (("spark.executor.memory", quota.memory_mb), ("spark.driver.memory", quota.driver_memory_mb)):
        if key in conf:
            wanted_mb = _mib(conf[key])
            if wanted_mb is None or wanted_mb > cap_mb:
                lower(key, f"{cap_mb}m", f"{cap_mb}m")
    master = conf.get("spark.master", "")
    local = _LOCAL.match(master.strip())
    if local is not None:
        threads = local.group(1)
        if threads == "*" or int(threads) > quota.cores:
            retries = f",{local.group(2)}" if local.group(2) else ""
            lower("spark.master", f"local[{quota.cores}{retries}]", f"local[{quota.cores}{retries}]")
    elif not master:
        # The engine's default is local[*]: all of the host's cores. The quota decides instead.
        conf["spark.master"] = f"local[{quota.cores}]"
    return conf, notes
