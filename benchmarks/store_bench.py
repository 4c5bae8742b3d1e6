"""Notebook store benchmark: list and open latency (p50/p99) and SQL queries per request over a large PostgreSQL data set.

    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/quire SECRET_KEY=... \\
        .venv/bin/python benchmarks/store_bench.py [--notebooks 10000 --versions 100] [--quick]

It works in a database of its own (--database, default quire_store_bench, on DATABASE_URL's server), which it
creates, migrates and fills with COPY; a later run with the same sizes reuses the data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

WORDS = ("sales", "churn", "forecast", "cohort", "revenue", "trips", "weather", "ads", "funnel", "latency",
         "inventory", "fraud", "clicks", "retention", "pricing", "supply")
USERS = 100
TEAMS = 10


def _point_at_bench_database(name: str) -> None:
    """Create the benchmark database if needed and make Django use it."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("store_bench needs DATABASE_URL pointing at a PostgreSQL server")
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    os.environ.setdefault("SECRET_KEY", "store-bench-secret-key-0123456789")
    # Hundreds of requests a minute from one account measure the store, not the per-caller rate limit.
    os.environ.setdefault("QUIRE_RATE_LIMITS", "api_user=1000000/1m")
    os.environ.setdefault("QUIRE_SECURE_COOKIES", "false")
    # Production settings insist on Redis; nothing here publishes, so any database number will do.
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")


def _cells(notebook: int, version: int) -> list[dict[str, Any]]:
    # Three small cells that change a little from version to version, with one output each.
    return [
        {"id": f"c{notebook}a", "language": "python", "source": f"df = load('t{notebook}')\nn = {version}",
         "metadata": {}, "outputs": [{"output_type": "stream", "name": "stdout", "text": f"{version} rows\n"}]},
        {"id": f"c{notebook}b", "language": "sql", "source": f"SELECT count(*) FROM df WHERE x > {version}",
         "metadata": {}, "outputs": []},
        {"id": f"c{notebook}c", "language": "python", "source": "df.describe()", "metadata": {},
         "outputs": [{"output_type": "execute_result", "data": {"text/plain": "count 10"}, "metadata": {}}]},
    ]


def _generate(notebooks: int, versions: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from notebooks.models import Grant, Notebook
    from quire.teams.models import Membership, Team

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE notebooks_auditentry, notebooks_grant, notebooks_notebookversion, notebooks_notebook, "
            "kernels_execution, kernels_kernelsession, teams_membership, teams_team, accounts_apitoken, "
            "auth_user CASCADE"
        )
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench{i:03d}", password="!", is_superuser=(i == 0), is_staff=(i == 0)) for i in range(USERS)]
    )
    teams = Team.objects.bulk_create([Team(name=f"Team {t}", slug=f"team-{t}") for t in range(TEAMS)])
    Membership.objects.bulk_create(
        [Membership(team=teams[i % TEAMS], user=user, role="admin" if i < TEAMS * 2 and i % 2 else "member")
         for i, user in enumerate(users[1:], start=1)]
    )
    now = timezone.now()
    rng = random.Random(5)
    # Notebooks and grants through bulk_create, so columns other features add get their defaults;
    # the million versions through COPY.
    Notebook.objects.bulk_create(
        [
            Notebook(
                id=n, owner=users[1 + n % (USERS - 1)],
                team_id=teams[(1 + n % (USERS - 1)) % TEAMS].pk if n % 3 == 0 else None,
                title=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n}",
                cells=[{k: v for k, v in c.items() if k != "outputs"} for c in _cells(n, versions)],
                config={"sparkConfig": {}}, revision=versions,
            )
            for n in range(1, notebooks + 1)
        ],
        batch_size=2000,
    )
    grants = []
    for n in range(1, notebooks + 1):
        owner_index = 1 + n % (USERS - 1)
        for offset, role in ((7, 1), (13, 3)):
            grants.append(Grant(notebook_id=n, user=users[1 + (owner_index + offset) % (USERS - 1)], role=role))
        if n % 10 == 0:
            grants.append(Grant(notebook_id=n, team=teams[n % TEAMS], role=2))
    Grant.objects.bulk_create(grants, batch_size=5000)
    conn = connection.connection
    with conn.cursor() as cur:
        with cur.copy("COPY notebooks_notebookversion (id, notebook_id, number, author_id, message, parent_id, "
                      "cells, config, content_hash, created_at) FROM STDIN") as copy:
            for n in range(1, notebooks + 1):
                author = users[1 + n % (USERS - 1)].pk
                for v in range(1, versions + 1):
                    vid = (n - 1) * versions + v
                    cells = json.dumps(_cells(n, v))
                    copy.write_row((vid, n, v, author, f"step {v}", vid - 1 if v > 1 else None, cells,
                                    '{"sparkConfig": {}}', hashlib.sha256(cells.encode()).hexdigest(),
                                    now - timedelta(minutes=n, seconds=versions - v)))
        # Each notebook's head is its last version; last edits spread over time, newest first by id.
        cur.execute("UPDATE notebooks_notebook SET head_version_id = (id - 1) * %s + %s, "
                    "updated_at = %s - id * interval '1 minute', created_at = %s - id * interval '1 minute'",
                    [versions, versions, now, now])
        for table in ("notebooks_notebook", "notebooks_notebookversion"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cur.execute("VACUUM ANALYZE notebooks_notebook")
        cur.execute("ANALYZE")
    print(f"generated {notebooks:,} notebooks x {versions} versions in {time.perf_counter() - started:.1f} s")


def _have(notebooks: int, versions: int) -> bool:
    from notebooks.models import Notebook, NotebookVersion

    return Notebook.objects.count() == notebooks and NotebookVersion.objects.count() == notebooks * versions


class _QueryCounter:
    """Counts the SQL statements a request runs (a connection execute_wrapper, no DEBUG needed)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def _measure(client: Any, paths: Callable[[], str], requests: int) -> tuple[list[float], int, int]:
    from django.db import connection

    samples, most, least = [], 0, 10**9
    for index in range(requests + 5):
        path = paths()
        executed = _QueryCounter()
        with connection.execute_wrapper(executed):
            start = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - start
        assert response.status_code == 200, (path, response.status_code, response.content[:200])
        if index >= 5:  # the first few warm caches and connections
            samples.append(elapsed)
            most, least = max(most, executed.count), min(least, executed.count)
    return samples, least, most


def _cases(ids: list[int], rng: random.Random, top: int) -> list[tuple[str, Callable[[], str]]]:
    def pick() -> int:
        return rng.choice(ids)

    return [
        ("GET /api/notebooks/ (first page of 50)", lambda: "/api/notebooks/"),
        ("GET /api/notebooks/?q=<word>", lambda: f"/api/notebooks/?q={rng.choice(WORDS)}"),
        ("GET /api/notebooks/?filter=shared", lambda: "/api/notebooks/?filter=shared"),
        ("GET /api/notebooks/?offset=<deep>", lambda: f"/api/notebooks/?offset={rng.randrange(len(ids))}"),
        ("GET /api/notebooks/<id>/ (open)", lambda: f"/api/notebooks/{pick()}/"),
        (f"GET /api/notebooks/<id>/versions/ ({top})", lambda: f"/api/notebooks/{pick()}/versions/"),
        ("GET /api/notebooks/<id>/versions/<n>/", lambda: f"/api/notebooks/{pick()}/versions/{rng.randint(1, top)}/"),
        ("GET /api/notebooks/<id>/diff/?from=1&to=draft", lambda: f"/api/notebooks/{pick()}/diff/?from=1&to=draft"),
    ]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", default="quire_store_bench")
    parser.add_argument("--quick", action="store_true", help="1,000 notebooks x 20 versions, 50 requests each")
    args = parser.parse_args()
    if args.quick:
        args.notebooks, args.versions, args.requests = 1_000, 20, 50
    _point_at_bench_database(args.database)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    if not _have(args.notebooks, args.versions):
        _generate(args.notebooks, args.versions)
    else:
        print(f"reusing {args.notebooks:,} notebooks x {args.versions} versions in {args.database}")

    from django.contrib.auth import get_user_model

    from notebooks.services import visible_notebooks

    people = {name: get_user_model().objects.get(username=username) for name, username in
              (("member", "bench042"), ("team admin", "bench003"), ("site admin", "bench000"))}
    rng = random.Random(7)
    top = args.versions
    print(f"\n{'request':<46} {'as':<11} {'visible':>8} {'p50 ms':>8} {'p99 ms':>8} {'queries':>8}")
    for who, user in people.items():
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        ids = list(visible_notebooks(user).values_list("pk", flat=True))
        cases = _cases(ids, rng, top)
        for label, paths in cases:
            samples, least, most = _measure(client, paths, args.requests)
            queries = str(most) if least == most else f"{least}-{most}"
            print(f"{label:<46} {who:<11} {len(ids):>8,} {_pct(samples, 0.5):>8.1f} {_pct(samples, 0.99):>8.1f} "
                  f"{queries:>8}")


if __name__ == "__main__":
    main()
