"""Security headers and Django's deployment checks in production settings."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from quire.config import load_config
from tests.support import REPO, env_for

pytestmark = pytest.mark.django_db


def test_django_deploy_checks_pass_in_production_settings() -> None:
    db = settings.DATABASES["default"]
    env = env_for({
        "QUIRE_MODE": "production",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.CONFIG.redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "QUIRE_SECURE_COOKIES": "true",
        "QUIRE_DEBUG": "false",
        "ALLOWED_HOSTS": "notebooks.example.com",
        "PYTHONPATH": f"{REPO}:{REPO / 'platform'}",
    })
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_https_only_sites_send_hsts_and_redirect_plain_http() -> None:
    secure = load_config({"DATABASE_URL": "postgres://h/db", "REDIS_URL": "redis://h", "SECRET_KEY": "x" * 50})
    assert secure.secure_cookies and secure.hsts_seconds == 365 * 24 * 3600
    plain = load_config({"DATABASE_URL": "postgres://h/db", "REDIS_URL": "redis://h", "SECRET_KEY": "x" * 50,
                         "QUIRE_SECURE_COOKIES": "false"})
    assert plain.hsts_seconds == 0


@pytest.mark.parametrize("path", ["/accounts/login/", "/"])
def test_html_pages_carry_the_content_security_policy(path: str, alice) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(alice)
    response = client.get(path)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"  # no inline script, no eval, nothing from elsewhere
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"



def test_the_api_docs_page_runs_no_inline_script_and_loads_swagger_ui_from_the_site(alice) -> None:  # type: ignore[no-untyped-def]
    import re

    client = Client()
    client.force_login(alice)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    scripts = re.findall(rb"<script([^>]*)>", page.content)
    assert scripts and all(b"src=" in attributes for attributes in scripts)
    policy = dict(part.strip().split(" ", 1) for part in page["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert b"cdn.jsdelivr.net" not in page.content and b"/static/drf_spectacular_sidecar/" in page.content
    assert client.get("/api/docs/?script=").status_code == 200
