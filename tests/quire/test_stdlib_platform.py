"""The platform/ folder never shadows Python's stdlib `platform` module, wherever Quire's code runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import REPO

PROBE = "import platform; print(platform.system(), platform.__file__)"


def _stdlib_answer(output: str) -> None:
    system, _, path = output.strip().splitlines()[-1].partition(" ")
    assert system == "Linux"
    assert "/platform/" not in path.replace(str(REPO), "")  # the module came from the stdlib, not the repo


def test_under_pytest() -> None:
    import platform

    assert platform.system() == "Linux"
    assert hasattr(platform, "python_version")


def test_from_the_repo_root() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    _stdlib_answer(out.stdout)


def test_under_manage_py() -> None:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True
    )
    _stdlib_answer(out.stdout)


def test_no_package_marker_in_platform_folder() -> None:
    assert not (REPO / "platform" / "__init__.py").exists()


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_in_the_celery_worker(celery_worker) -> None:  # type: ignore[no-untyped-def]
    from quire.celery import platform_system

    assert platform_system.apply_async().get(timeout=30) == "Linux"
