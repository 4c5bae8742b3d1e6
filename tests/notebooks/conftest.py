"""Named people around one shared notebook: its owner, a viewer, a runner, an editor, team members, admins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

DATA = Path(__file__).parent / "data"


def _person(username: str, **extra: Any):  # type: ignore[no-untyped-def]
    # No password: hashing one costs a good part of a second, and these people sign in with force_login.
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password=None, **extra)


@pytest.fixture
def olga(db):  # type: ignore[no-untyped-def]
    """Owns the shared notebook; a plain member of Globex."""
    return _person("olga")


@pytest.fixture
def viewer_vic(db):  # type: ignore[no-untyped-def]
    return _person("vic")


@pytest.fixture
def runner_rita(db):  # type: ignore[no-untyped-def]
    return _person("rita")


@pytest.fixture
def editor_ed(db):  # type: ignore[no-untyped-def]
    return _person("ed")


@pytest.fixture
def member_mo(db):  # type: ignore[no-untyped-def]
    """A plain member of Globex, with no grant of his own."""
    return _person("mo")


@pytest.fixture
def admin_ada(db):  # type: ignore[no-untyped-def]
    """Globex's team admin."""
    return _person("ada")


@pytest.fixture
def stranger_sam(db):  # type: ignore[no-untyped-def]
    """Signed in, but nothing is shared with him."""
    return _person("sam")


@pytest.fixture
def carol(db):  # type: ignore[no-untyped-def]
    """Signed in, in no team; the one people share things with in the tests."""
    return _person("carol")


@pytest.fixture
def superuser_sue(db):  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(username="sue", password=None, email="sue@example.com")


@pytest.fixture
def team_globex(olga, member_mo, admin_ada):  # type: ignore[no-untyped-def]
    """Globex: ada is its admin, olga and mo members."""
    from quire.teams.models import Membership, Team

    team = Team.objects.create(name="Globex", slug="globex")
    Membership.objects.create(team=team, user=admin_ada, role=Membership.Role.ADMIN)
    Membership.objects.create(team=team, user=olga, role=Membership.Role.MEMBER)
    Membership.objects.create(team=team, user=member_mo, role=Membership.Role.MEMBER)
    return team


@pytest.fixture
def shared_notebook(olga, team_globex, viewer_vic, runner_rita, editor_ed):  # type: ignore[no-untyped-def]
    """Olga's Globex notebook "Forecast": vic views, rita runs, ed edits; version 1 saved, the draft edited since."""
    from notebooks import services, sharing, versioning

    notebook = services.do_create_notebook(olga, title="Forecast", team_id=team_globex.pk)
    first = notebook.cells[0]["id"]
    services.check_update_source(olga, notebook.pk, cell_id=first, source="x = 1")
    services.check_insert_cell(olga, notebook.pk, index=1, language="sql", source="select 1")
    for person, role in ((viewer_vic, "viewer"), (runner_rita, "runner"), (editor_ed, "editor")):
        sharing.check_share(olga, notebook.pk, username=person.username, role=role)
    versioning.check_save_version(olga, notebook.pk, message="first cut")
    services.check_update_source(olga, notebook.pk, cell_id=first, source="x = 2")
    notebook.refresh_from_db()
    return notebook


def client_for(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def olga_client(olga) -> APIClient:  # type: ignore[no-untyped-def]
    return client_for(olga)


@pytest.fixture(scope="module")
def daphne(django_db_setup, process_logs: Path):  # type: ignore[no-untyped-def]
    """A live Daphne on the test database, with no Celery worker: for what the server makes of input, where no
    kernel starts. Yields the service (its log) and its port. Its per-caller REST rate is lifted: the input tests
    send hundreds of requests a minute from one account, and each must reach the checks it is about."""
    from tests.conftest import _test_database_env
    from tests.support import start_daphne

    env = {**_test_database_env(), "QUIRE_RATE_LIMITS": "api_user=100000/1m,api_anonymous=100000/1m"}
    service, port = start_daphne(env=env, log_dir=process_logs)
    yield service, port
    service.stop()
