"""Shared fixtures: named people and teams, and the real processes (Celery worker, Daphne) tests talk to."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import RECEIVED, CeleryWorkers, env_for, start_celery_worker, start_daphne

if TYPE_CHECKING:
    from quire.teams.models import Team

# Django imports stay inside the fixtures: the engine tests under tests/kernels/core run without Django.
PASSWORD = "correct horse battery staple"


def _user(username: str, **extra: Any):  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


@pytest.fixture
def alice(db):  # type: ignore[no-untyped-def]
    return _user("alice", email="alice@example.com")


@pytest.fixture
def bob(db):  # type: ignore[no-untyped-def]
    return _user("bob", email="bob@example.com")


@pytest.fixture
def site_admin(db):  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(username="root", password=PASSWORD, email="root@example.com")


@pytest.fixture
def team_acme(alice, bob) -> Team:  # type: ignore[no-untyped-def]
    """Acme: alice is its admin, bob a member."""
    from quire.teams.models import Membership, Team

    team = Team.objects.create(name="Acme", slug="acme")
    Membership.objects.create(team=team, user=alice, role=Membership.Role.ADMIN)
    Membership.objects.create(team=team, user=bob, role=Membership.Role.MEMBER)
    return team


@pytest.fixture
def alice_token(alice) -> str:  # type: ignore[no-untyped-def]
    from quire.accounts.services import do_issue_token

    return do_issue_token(alice, name="tests").key


@pytest.fixture(scope="session")
def process_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("process-logs")


@pytest.fixture(scope="session")
def file_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the administrator allows for file:// sources (QUIRE_FILE_REPOSITORY_ROOTS): the environment
    tests serve wheels and Maven repositories from it. Readable by all, as a real root must be: builds run under
    an unprivileged uid of their own."""
    path = tmp_path_factory.mktemp("file-sources", numbered=False)
    path.chmod(0o755)
    return path


def _test_database_env(file_roots: Path | None = None) -> dict[str, str]:
    """The test database and Redis (and the folder allowed for file:// sources, when given)."""
    from django.conf import settings

    assert settings.QUIRE_MODE == "production", "run the suite through `make test` (PostgreSQL and Redis)"
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return env_for({"DATABASE_URL": url, "QUIRE_VAR_DIR": str(settings.QUIRE_VAR_DIR),
                    "QUIRE_FILE_REPOSITORY_ROOTS": str(file_roots or "")})


@pytest.fixture(scope="session", autouse=True)
def _fresh_presence(request: pytest.FixtureRequest) -> None:
    """Presence records of an earlier run against the same test database must not show up as people here."""
    if "django_db_setup" not in request.fixturenames and not request.config.pluginmanager.hasplugin("django"):
        return
    from django.conf import settings

    if not settings.CONFIG.redis_url:
        return
    import redis

    from notebooks.presence import key_prefix

    client = redis.Redis.from_url(settings.CONFIG.redis_url)
    request.getfixturevalue("django_db_setup")
    for key in client.scan_iter(f"{key_prefix()}:*"):
        client.delete(key)


@pytest.fixture(scope="session", autouse=True)
def _flush_despite_live_writers() -> Iterator[None]:
    """Between transactional tests Django empties every table with one TRUNCATE. Kernel hosts, beat's sweeps and
    Celery's own bookkeeping of a test that just ended may still be writing (a host stores a stopped kernel's last
    state after the page heard of it), and PostgreSQL can then end the TRUNCATE as a deadlock: the next test would
    start on a database that was not emptied. The flush is tried again, as anyone meeting a deadlock would."""
    from django.db import OperationalError
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        for attempt in range(5):
            try:
                original(self, sql_list)
                return
            except OperationalError as exc:
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign,assignment]
    yield
    DatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request: pytest.FixtureRequest) -> None:
    """Rate-limit counters outlive a test in Redis (and are shared with the live Daphne): each test starts with
    none, so the many quick calls of one test never count against the next."""
    uses_django = {"db", "transactional_db", "live_daphne"} & set(request.fixturenames)
    if request.node.get_closest_marker("django_db") is None and not uses_django:
        return
    from django.conf import settings
    from django.core.cache import cache

    from quire.lib.ratelimit import KEY_PREFIX

    if not settings.CONFIG.redis_url:
        cache.clear()
        return
    import redis

    client = redis.Redis.from_url(settings.CONFIG.redis_url)
    for key in client.scan_iter(cache.make_key(f"{KEY_PREFIX}:*")):
        client.delete(key)


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, process_logs: Path,  # type: ignore[no-untyped-def]
                  file_sources: Path) -> Iterator[CeleryWorkers]:
    """Real Celery workers (kernels; maintenance, builds and beat), talking to the test database and Redis.

    With no kernel pool (migrations seed one for the base environment): each test starts its kernels as it
    expects, and tests of the pools set their own (tests/kernels/test_warm_pools.py)."""
    from kernels.models import KernelPool

    with django_db_blocker.unblock():
        KernelPool.objects.all().delete()
    worker = start_celery_worker(env=_test_database_env(file_sources), log_dir=process_logs)
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def live_daphne(django_db_setup, celery_worker: CeleryWorkers, process_logs: Path,  # type: ignore[no-untyped-def]
                file_sources: Path) -> Iterator[str]:
    """A live Daphne serving the whole app (HTTP and WebSockets) on the test database; yields its base URL."""
    server, port = start_daphne(env=_test_database_env(file_sources), log_dir=process_logs)
    yield f"http://127.0.0.1:{port}"
    server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many server messages the tests' clients received, each checked against the protocol's classes."""
    if RECEIVED:
        terminalreporter.write_line(f"protocol contract: {sum(RECEIVED.values())} server messages of "
                                    f"{len(RECEIVED)} types received and checked ({', '.join(sorted(RECEIVED))})")
