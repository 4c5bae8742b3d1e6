"""Rate limits: failed sign-ins per account and address, unknown API tokens per address, REST calls per caller.
Counted in the real cache (Redis, shared by every server process); rates set per test through settings."""

from __future__ import annotations

import secrets
import time

import pytest
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings
from rest_framework.test import APIClient

from quire.config import RATE_LIMITS, Rate
from tests.conftest import PASSWORD
from tests.live import NotebookClient

pytestmark = pytest.mark.django_db


def _rates(**rates: Rate):  # type: ignore[no-untyped-def]
    return override_settings(QUIRE_RATE_LIMITS={**settings.QUIRE_RATE_LIMITS, **rates})


def _sign_in(password: str, *, username: str = "alice", address: str = "203.0.113.7"):  # type: ignore[no-untyped-def]
    return Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": username, "password": password})


def test_the_suite_runs_with_the_production_rates() -> None:
    assert settings.QUIRE_RATE_LIMITS == RATE_LIMITS
    assert RATE_LIMITS["sign_in_account"] == Rate(10, 15 * 60)


def test_forty_wrong_passwords_then_the_right_one_is_refused(alice, bob) -> None:  # type: ignore[no-untyped-def]
    statuses = [_sign_in(f"guess-{n}").status_code for n in range(40)]
    assert statuses[:10] == [200] * 10  # the form again, "didn't match"
    assert set(statuses[10:]) == {429}
    refused = _sign_in(PASSWORD)
    assert refused.status_code == 429
    assert b"Too many failed sign-ins. Try again in 15 minutes." in refused.content
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    assert "sessionid" not in refused.cookies
    # The account is closed from every address; the address still signs in other people.
    assert _sign_in(PASSWORD, address="198.51.100.9").status_code == 429
    assert _sign_in(PASSWORD, username="bob").status_code == 302


def test_django_admin_sign_in_counts_against_the_same_budget(site_admin) -> None:  # type: ignore[no-untyped-def]
    client = Client(REMOTE_ADDR="203.0.113.8")
    for n in range(10):
        client.post("/admin/login/", {"username": "root", "password": f"guess-{n}"})
    refused = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert b"Too many failed sign-ins" in refused.content
    assert client.get("/admin/").status_code == 302  # still signed out


def test_many_accounts_from_one_address_close_the_address(db) -> None:  # type: ignore[no-untyped-def]
    with _rates(sign_in_address=Rate(5, 900)):
        for n in range(5):
            assert _sign_in("x", username=f"nobody-{n}").status_code == 200
        assert _sign_in("x", username="nobody-new").status_code == 429


def test_the_account_opens_again_when_the_window_passes(alice) -> None:  # type: ignore[no-untyped-def]
    with _rates(sign_in_account=Rate(3, 8)):
        for _ in range(20):  # until three failures fall inside one window
            response = _sign_in("wrong")
            if response.status_code == 429:
                break
        assert response.status_code == 429
        assert _sign_in(PASSWORD).status_code == 429
        time.sleep(int(response["Retry-After"]) + 0.5)
        assert _sign_in(PASSWORD).status_code == 302


def test_a_success_clears_the_accounts_failures(alice) -> None:  # type: ignore[no-untyped-def]
    with _rates(sign_in_account=Rate(3, 900)):
        assert _sign_in("wrong").status_code == 200
        assert _sign_in("wrong").status_code == 200
        assert _sign_in(PASSWORD).status_code == 302
        assert _sign_in("wrong").status_code == 200
        assert _sign_in("wrong").status_code == 200
        assert _sign_in(PASSWORD).status_code == 302


def test_a_hundred_random_bearer_tokens_from_one_address_get_429(alice_token) -> None:  # type: ignore[no-untyped-def]
    prober = APIClient(REMOTE_ADDR="203.0.113.9")
    statuses = []
    for _ in range(100):
        prober.credentials(HTTP_AUTHORIZATION=f"Bearer qt_{secrets.token_urlsafe(32)}")
        statuses.append(prober.get("/api/me/").status_code)
    limit = RATE_LIMITS["bad_token_address"].count
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
    # Refused unread from that address, even a good token; from elsewhere the good token works.
    prober.credentials(HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    refused = prober.get("/api/me/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "unknown API tokens" in refused.json()["detail"]
    elsewhere = APIClient(REMOTE_ADDR="198.51.100.10")
    elsewhere.credentials(HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    assert elsewhere.get("/api/me/").status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_bad_tokens_over_websockets_close_the_address_too(alice, alice_token) -> None:  # type: ignore[no-untyped-def]
    from channels.db import database_sync_to_async

    from notebooks.services import do_create_notebook

    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Private")
    with _rates(bad_token_address=Rate(3, 900)):
        for _ in range(3):
            client = NotebookClient(notebook.pk, token=f"qt_{secrets.token_urlsafe(32)}")
            assert (await client.comm.connect(timeout=10))[0]
            assert (await client.next_event())["code"] == "unauthenticated"
            await client.close()
        refused = NotebookClient(notebook.pk, token=alice_token)
        assert not (await refused.comm.connect(timeout=10))[0]


def test_back_to_back_calls_past_the_rate_get_429_with_retry_after(alice, bob) -> None:  # type: ignore[no-untyped-def]
    with _rates(api_user=Rate(20, 60)):
        client = APIClient()
        client.force_login(alice)
        statuses = [client.get("/api/me/").status_code for _ in range(30)]
        assert statuses == [200] * 20 + [429] * 10
        refused = client.get("/api/notebooks/")
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 60
        other = APIClient()
        other.force_login(bob)
        assert other.get("/api/me/").status_code == 200


def test_callers_not_signed_in_are_counted_by_address(db) -> None:  # type: ignore[no-untyped-def]
    # The schema is the one REST resource open to everyone (elsewhere the 401 comes before any counting).
    with _rates(api_anonymous=Rate(3, 60)):
        client = APIClient(REMOTE_ADDR="203.0.113.11")
        assert [client.get("/api/schema/").status_code for _ in range(4)] == [200] * 3 + [429]
        assert APIClient(REMOTE_ADDR="198.51.100.11").get("/api/schema/").status_code == 200


def test_counters_out_of_reach_let_sign_in_and_the_api_through(alice) -> None:  # type: ignore[no-untyped-def]
    """Redis restarting must not turn every sign-in and API call into a server error: uncounted, they go on."""
    unreachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                               "LOCATION": "redis://127.0.0.1:9/0", "KEY_PREFIX": "quire"}}
    with override_settings(CACHES=unreachable):
        signed_in = _sign_in(PASSWORD)
        assert signed_in.status_code == 302, signed_in.content[:300]
        api = APIClient()
        api.force_login(alice)
        assert api.get("/api/notebooks/").status_code == 200
