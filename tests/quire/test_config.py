"""Settings come from the environment and a wrong value stops start-up with a clear message."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from quire.config import SQLITE_BUSY_TIMEOUT_S, load_config, parse_database_url, sqlite_database
from tests.support import REPO

PROD = {
    "DATABASE_URL": "postgres://u:p@db.example:5433/quire",
    "REDIS_URL": "redis://cache:6379/0",
    "SECRET_KEY": "x" * 40,
}


def test_nothing_set_means_embedded_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = load_config({"QUIRE_VAR_DIR": str(tmp_path)})
    assert config.mode == "embedded"
    assert config.database == sqlite_database(str(tmp_path / "quire.sqlite3"))
    assert config.database["ENGINE"] == "quire.lib.sqlite"
    assert config.kernel_host == "inprocess"
    assert config.redis_url is None
    # Debug pages show settings and source to whoever reaches the server, and keep every query in memory.
    assert config.debug is False


def test_production_mode_reads_urls() -> None:
    config = load_config(PROD)
    assert config.mode == "production"
    assert config.database == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "quire", "USER": "u", "PASSWORD": "p",
        "HOST": "db.example", "PORT": "5433", "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True,
    }
    assert config.kernel_host == "celery"
    assert config.debug is False
    assert config.secure_cookies is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**PROD, "SECRET_KEY": ""}, "SECRET_KEY"),
        ({k: v for k, v in PROD.items() if k != "REDIS_URL"}, "REDIS_URL"),
        ({k: v for k, v in PROD.items() if k != "DATABASE_URL"}, "DATABASE_URL"),
        ({**PROD, "DATABASE_URL": "mysql://x/y"}, "postgres://"),
        ({**PROD, "DATABASE_URL": "postgres://host:99999/db"}, "port"),
        ({**PROD, "REDIS_URL": "http://cache"}, "REDIS_URL"),
        ({**PROD, "QUIRE_DEBUG": "maybe"}, "QUIRE_DEBUG"),
        ({"QUIRE_MODE": "staging"}, "QUIRE_MODE"),
        ({"QUIRE_KERNEL_HOST": "celery"}, "REDIS_URL"),
        ({"QUIRE_KERNEL_SANDBOX": "docker"}, "QUIRE_KERNEL_SANDBOX"),
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        load_config(env)


def test_sqlite_url() -> None:
    database = parse_database_url("sqlite:////tmp/q.db")
    assert (database["ENGINE"], database["NAME"]) == ("quire.lib.sqlite", "/tmp/q.db")
    assert database["OPTIONS"] == {
        "init_command": "PRAGMA journal_mode=WAL", "transaction_mode": "IMMEDIATE", "timeout": SQLITE_BUSY_TIMEOUT_S,
    }


def test_a_bad_value_stops_the_process_with_its_name() -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://h/db", "REDIS_URL": "redis://h", "SECRET_KEY": "short"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_trusted_origins_are_exact_origins() -> None:
    config = load_config({**PROD, "QUIRE_TRUSTED_ORIGINS": "https://notebooks.example.com, http://Host:8000"})
    assert config.trusted_origins == ["https://notebooks.example.com", "http://host:8000"]
    assert load_config(PROD).trusted_origins == []
    for bad in ("notebooks.example.com", "https://*.example.com", "https://a.example/path", "ftp://a.example",
                "https://a.example:99999", "*"):
        with pytest.raises(ImproperlyConfigured, match="QUIRE_TRUSTED_ORIGINS"):
            load_config({**PROD, "QUIRE_TRUSTED_ORIGINS": bad})


def test_rate_limits_have_production_defaults_and_validated_overrides() -> None:
    from quire.config import RATE_LIMITS, Rate

    assert load_config(PROD).rate_limits == RATE_LIMITS
    config = load_config({**PROD, "QUIRE_RATE_LIMITS": "api_user=600/1m, sign_in_account=5/30s,bad_token_address=9/h"})
    assert config.rate_limits["api_user"] == Rate(600, 60)
    assert config.rate_limits["sign_in_account"] == Rate(5, 30)
    assert config.rate_limits["bad_token_address"] == Rate(9, 3600)
    assert config.rate_limits["api_anonymous"] == RATE_LIMITS["api_anonymous"]
    for bad in ("api_user=many", "api_user=0/1m", "api_user=5/0m", "api_user=5/1w", "logins=5/1m", "api_user"):
        with pytest.raises(ImproperlyConfigured, match="QUIRE_RATE_LIMITS"):
            load_config({**PROD, "QUIRE_RATE_LIMITS": bad})


def test_the_per_cell_output_limit_is_a_validated_setting() -> None:
    assert load_config(PROD).output_limit == 2 * 1024 * 1024
    assert load_config({**PROD, "QUIRE_OUTPUT_LIMIT_BYTES": "10000000"}).output_limit == 10_000_000
    for bad in ("2MB", "-1", "100", str(10**9)):
        with pytest.raises(ImproperlyConfigured, match="QUIRE_OUTPUT_LIMIT_BYTES"):
            load_config({**PROD, "QUIRE_OUTPUT_LIMIT_BYTES": bad})


def test_the_direct_line_listens_on_loopback_unless_told() -> None:
    config = load_config(PROD)
    assert (config.direct_bind, config.direct_advertise) == ("127.0.0.1", "")
    config = load_config({**PROD, "QUIRE_DIRECT_BIND": "0.0.0.0", "QUIRE_DIRECT_ADVERTISE": "worker-3.internal"})
    assert (config.direct_bind, config.direct_advertise) == ("0.0.0.0", "worker-3.internal")
    for name in ("QUIRE_DIRECT_BIND", "QUIRE_DIRECT_ADVERTISE"):
        for bad in ("10.0.0.1:80", "two words", "-leading-dash", "http://worker"):
            with pytest.raises(ImproperlyConfigured, match=name):
                load_config({**PROD, name: bad})


def test_data_roots_are_shared_folders_outside_the_var_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "datasets"
    data.mkdir()
    var = tmp_path / "var"
    config = load_config({"QUIRE_VAR_DIR": str(var), "QUIRE_DATA_ROOTS": f"{data}:"})
    assert config.data_roots == (data,)
    (var / "shared").mkdir(parents=True)
    with pytest.raises(ImproperlyConfigured, match="QUIRE_DATA_ROOTS: .* overlaps QUIRE_VAR_DIR"):
        load_config({"QUIRE_VAR_DIR": str(var), "QUIRE_DATA_ROOTS": str(var / "shared")})
    with pytest.raises(ImproperlyConfigured, match="QUIRE_DATA_ROOTS: 'relative' is not an absolute path"):
        load_config({"QUIRE_VAR_DIR": str(var), "QUIRE_DATA_ROOTS": "relative"})
