"""Version locks: saving a version records what it runs with; readers get it over REST and diff two versions."""

from __future__ import annotations

import platform
import uuid
from pathlib import Path
from typing import Any

import pytest

from kernels import env_services
from notebooks import configuration, versioning
from quire.quotas.models import Quota
from runs import locks
from runs.models import VersionLock
from tests.kernels.artifacts import write_wheel
from tests.notebooks.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def allowed_roots(settings, file_sources: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.QUIRE_FILE_REPOSITORY_ROOTS = (file_sources,)
    settings.QUIRE_VAR_DIR = tmp_path / "var"


def _index(file_sources: Path, greeting: str) -> Path:
    """A local index holding quire_demo 1.0 whose module says `greeting`."""
    index = file_sources / f"lock-{uuid.uuid4().hex[:8]}"
    write_wheel(index, "quire_demo", "1.0", f"GREETING = {greeting!r}\n")
    return index


def _config(index: Path, **extra: Any) -> dict[str, Any]:
    return {"dependencies": {"python": ["quire_demo==1.0"]}, "repositories": [{"pip": {"url": index.as_uri()}}],
            **extra}


def _save_built(user, notebook, config: dict[str, Any], message: str) -> int:  # type: ignore[no-untyped-def]
    """Set the config, build its environment as the builds worker does, and save a version."""
    configuration.check_set_config(user, notebook.pk, config=config)
    notebook.refresh_from_db()
    for env in env_services.do_request_builds(notebook.pk, notebook.config):
        assert env_services.do_build(notebook.pk, env.key) == "ready"
    return versioning.check_save_version(user, notebook.pk, message=message).version.number


def test_a_saved_version_records_its_packages_settings_and_platform(  # type: ignore[no-untyped-def]
    allowed_roots, file_sources, shared_notebook, olga, olga_client
) -> None:
    Quota.objects.create(scope=Quota.Scope.USER, user=olga, spark_cores=2, spark_executors=1, spark_memory_mb=1024)
    config = _config(_index(file_sources, "one"), sparkConfig={"spark.master": "local[8]", "spark.sql.shuffle.partitions": "4"},
                     env={"API_TOKEN": "secret-value"})
    number = _save_built(olga, shared_notebook, config, "pinned")
    response = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/versions/{number}/lock/")
    assert response.status_code == 200
    lock = response.json()
    demo = [p for p in lock["python"]["packages"] if p["name"] == "quire-demo"]
    assert demo and demo[0]["version"] == "1.0" and len(demo[0]["sha256"]) == 64
    assert lock["python"]["environment"].startswith("py-")
    assert any(p["name"] == "django" for p in lock["platform_packages"])
    # Spark's settings as the kernel gets them: clamped to the author's quota.
    assert lock["spark"]["settings"]["spark.master"] == "local[2]"
    assert lock["spark"]["settings"]["spark.sql.shuffle.partitions"] == "4"
    assert lock["spark"]["clamped"] == ["spark.master lowered from local[8] to local[2] by your quota"]
    assert lock["env_names"] == ["API_TOKEN"] and "secret-value" not in response.content.decode()
    assert lock["platform"]["python"] == platform.python_version()
    assert lock["platform"]["spark"] and lock["platform"]["engine"].startswith("0.1.0+")


def test_the_lock_diff_names_a_rebuilt_package_and_changed_settings(  # type: ignore[no-untyped-def]
    allowed_roots, file_sources, shared_notebook, olga, viewer_vic
) -> None:
    first = _save_built(olga, shared_notebook, _config(_index(file_sources, "one")), "first index")
    # The same name and version from another index, with other contents; and a setting added.
    second = _save_built(olga, shared_notebook,
                         _config(_index(file_sources, "two"), sparkConfig={"spark.sql.shuffle.partitions": "8"}),
                         "second index")
    response = client_for(viewer_vic).get(f"/api/notebooks/{shared_notebook.pk}/lock-diff/",
                                          {"from": first, "to": second})
    assert response.status_code == 200, response.content
    changes = {(c["section"], c["name"]): c for c in response.json()["changes"]}
    demo = changes[("python", "quire-demo")]
    assert demo["before"].startswith("1.0 (sha256 ") and demo["after"].startswith("1.0 (sha256 ")
    assert demo["before"] != demo["after"]
    assert changes[("spark", "spark.sql.shuffle.partitions")] == {
        "section": "spark", "name": "spark.sql.shuffle.partitions", "before": None, "after": "8"}
    assert ("environment", "python") in changes
    assert not any(section == "platform" for section, _ in changes)


def test_locks_are_for_readers_only(shared_notebook, olga, stranger_sam) -> None:  # type: ignore[no-untyped-def]
    number = versioning.check_save_version(olga, shared_notebook.pk, message="x").version.number
    assert client_for(stranger_sam).get(f"/api/notebooks/{shared_notebook.pk}/versions/{number}/lock/").status_code == 404
    assert client_for(stranger_sam).get(f"/api/notebooks/{shared_notebook.pk}/lock-diff/",
                                        {"from": 1, "to": number}).status_code == 404


def test_a_version_without_environments_still_gets_a_lock(shared_notebook, olga) -> None:  # type: ignore[no-untyped-def]
    version = versioning.check_save_version(olga, shared_notebook.pk, message="plain").version
    lock = VersionLock.objects.get(version=version).lock
    assert lock["python"] == {"environment": None, "note": "", "packages": []}
    assert lock["format"] == locks.LOCK_FORMAT


def test_lock_diff_asks_for_version_numbers(shared_notebook, olga_client) -> None:  # type: ignore[no-untyped-def]
    response = olga_client.get(f"/api/notebooks/{shared_notebook.pk}/lock-diff/", {"from": "draft", "to": 1})
    assert response.status_code == 400 and "from is a version number" in response.content.decode()
