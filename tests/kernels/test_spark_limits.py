"""A notebook's Spark settings are clamped to its quota, and each lowered value is reported."""

from __future__ import annotations

from kernels.spark_limits import SparkQuota, clamp

QUOTA = SparkQuota(executors=2, cores=2, memory_mb=2048, driver_memory_mb=1024)


def test_settings_within_the_quota_are_kept() -> None:
    conf, notes = clamp(
        {"spark.executor.instances": 1, "spark.executor.memory": "1g", "spark.master": "local[2]",
         "spark.sql.shuffle.partitions": "8"},
        QUOTA,
    )
    assert conf == {"spark.executor.instances": "1", "spark.executor.memory": "1g", "spark.master": "local[2]",
                    "spark.sql.shuffle.partitions": "8"}
    assert notes == []


def test_settings_over_the_quota_are_lowered_and_reported() -> None:
    conf, notes = clamp(
        {"spark.executor.instances": "10", "spark.executor.cores": "8", "spark.executor.memory": "16g",
         "spark.driver.memory": "4096m", "spark.cores.max": "64", "spark.master": "local[*]"},
        QUOTA,
    )
    assert conf["spark.executor.instances"] == "2"
    assert conf["spark.executor.cores"] == "2"
    assert conf["spark.cores.max"] == "4"
    assert conf["spark.executor.memory"] == "2048m"
    assert conf["spark.driver.memory"] == "1024m"
    assert conf["spark.master"] == "local[2]"
    assert len(notes) == 6
    assert "spark.executor.instances lowered from 10 to 2 by your quota" in notes


def test_unreadable_values_fall_to_the_cap_and_no_master_means_the_quota_cores() -> None:
    conf, notes = clamp({"spark.executor.memory": "lots", "spark.executor.instances": "many"}, QUOTA)
    assert conf["spark.executor.memory"] == "2048m"
    assert conf["spark.executor.instances"] == "2"
    assert conf["spark.master"] == "local[2]"
    assert len(notes) == 2


def test_cluster_masters_are_left_alone() -> None:
    conf, _ = clamp({"spark.master": "spark://10.0.0.5:7077", "spark.executor.instances": "1"}, QUOTA)
    assert conf["spark.master"] == "spark://10.0.0.5:7077"
