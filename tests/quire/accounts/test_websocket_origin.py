"""The WebSocket handshake's Origin rule: a cookie caller's page must be this site's own origin (scheme, host and
port); a token caller needs no Origin. Driven through the real ASGI application and its middleware."""

from __future__ import annotations

import pytest
from django.test import Client
from django.test.utils import override_settings

from notebooks.models import Notebook
from notebooks.services import do_create_notebook
from tests.conftest import PASSWORD
from tests.live import NotebookClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice_notebook(alice) -> Notebook:  # type: ignore[no-untyped-def]
    return do_create_notebook(alice, title="Private")


@pytest.fixture
def alice_cookie(alice) -> str:  # type: ignore[no-untyped-def]
    """Alice's session cookie, from signing in on the login page like a browser."""
    client = Client()
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    return f"sessionid={client.cookies['sessionid'].value}"


class Handshake(NotebookClient):
    """A handshake to the server at http://127.0.0.1:8001 (the Host header a browser sends for it)."""

    def __init__(self, notebook_id: int, **kwargs: object) -> None:
        super().__init__(notebook_id, **kwargs)  # type: ignore[arg-type]
        self.comm.scope["headers"] = [
            (name, b"127.0.0.1:8001" if name == b"host" else value) for name, value in self.comm.scope["headers"]
        ]


@pytest.mark.parametrize(
    "origin",
    [
        # The three of the outside probe: another port of the same host (a page a network-enabled kernel
        # serves), the same host over the other scheme and its default port, the same machine by another name.
        "http://127.0.0.1:8000",
        "https://127.0.0.1",
        "http://localhost:1",
        "https://127.0.0.1:8001",  # right host and port, wrong scheme
        "http://127.0.0.1",  # port 80, not 8001
        "http://localhost:8001",
        "http://evil.example",
        "null",
        None,  # no Origin at all
    ],
)
async def test_a_cookie_caller_from_another_origin_is_refused(alice_notebook, alice_cookie, origin) -> None:  # type: ignore[no-untyped-def]
    client = Handshake(alice_notebook.pk, cookie=alice_cookie, origin=origin)
    connected, _ = await client.comm.connect(timeout=10)
    assert not connected, f"{origin!r} opened alice's notebook with her cookie"


async def test_a_cookie_caller_from_the_sites_own_origin_is_accepted(alice_notebook, alice_cookie) -> None:  # type: ignore[no-untyped-def]
    client = Handshake(alice_notebook.pk, cookie=alice_cookie, origin="http://127.0.0.1:8001")
    snapshot = await client.connect()
    assert snapshot["type"] == "snapshot" and snapshot["you"]["username"] == "alice"
    await client.close()


async def test_a_trusted_origin_is_accepted(alice_notebook, alice_cookie) -> None:  # type: ignore[no-untyped-def]
    with override_settings(CSRF_TRUSTED_ORIGINS=["https://notebooks.example.com"]):
        client = Handshake(alice_notebook.pk, cookie=alice_cookie, origin="https://notebooks.example.com")
        assert (await client.connect())["type"] == "snapshot"
        await client.close()
        other = Handshake(alice_notebook.pk, cookie=alice_cookie, origin="https://notebooks.example.com:8443")
        assert not (await other.comm.connect(timeout=10))[0]


async def test_behind_a_tls_proxy_the_https_origin_is_the_sites_own(alice_notebook, alice_cookie) -> None:  # type: ignore[no-untyped-def]
    client = Handshake(alice_notebook.pk, cookie=alice_cookie, origin="https://127.0.0.1:8001")
    client.comm.scope["headers"].append((b"x-forwarded-proto", b"https"))
    assert (await client.connect())["type"] == "snapshot"
    await client.close()
    plain = Handshake(alice_notebook.pk, cookie=alice_cookie, origin="http://127.0.0.1:8001")
    plain.comm.scope["headers"].append((b"x-forwarded-proto", b"https"))
    assert not (await plain.comm.connect(timeout=10))[0]


async def test_a_host_that_is_not_allowed_has_no_own_origin(alice_notebook, alice_cookie) -> None:  # type: ignore[no-untyped-def]
    # DNS rebinding: evil.example resolved to this server; the page's origin matches the Host it sent.
    client = NotebookClient(alice_notebook.pk, cookie=alice_cookie, origin="http://evil.example:8000")
    client.comm.scope["headers"] = [(b"host", b"evil.example:8000"), *client.comm.scope["headers"][1:]]
    assert not (await client.comm.connect(timeout=10))[0]


@pytest.mark.parametrize("origin", [None, "http://evil.example"])
async def test_a_token_caller_needs_no_origin(alice_notebook, alice_token, origin) -> None:  # type: ignore[no-untyped-def]
    client = Handshake(alice_notebook.pk, token=alice_token, origin=origin)
    snapshot = await client.connect()
    assert snapshot["type"] == "snapshot" and snapshot["you"]["username"] == "alice"
    await client.close()


async def test_a_cookie_without_a_token_is_still_checked_when_basic_auth_is_sent(alice_notebook, alice_cookie) -> None:  # type: ignore[no-untyped-def]
    # A browser sends "Authorization: Basic" for ws://user:pass@host/ URLs: that is no API token.
    client = Handshake(alice_notebook.pk, cookie=alice_cookie, origin="http://localhost:1")
    client.comm.scope["headers"].append((b"authorization", b"Basic YWxpY2U6eA=="))
    assert not (await client.comm.connect(timeout=10))[0]


@pytest.mark.celery
async def test_a_live_daphne_refuses_the_probes_origins_and_admits_its_own(  # type: ignore[no-untyped-def]
    live_daphne: str, alice_notebook, alice_cookie, alice_token
) -> None:
    import json

    import websockets
    from websockets.exceptions import InvalidStatus

    port = int(live_daphne.rsplit(":", 1)[1])
    url = f"ws://127.0.0.1:{port}/ws/notebooks/{alice_notebook.pk}/"
    for origin in (f"http://127.0.0.1:{port + 1}", "https://127.0.0.1", "http://localhost:1"):
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url, additional_headers={"Cookie": alice_cookie, "Origin": origin}):
                pass
        assert refused.value.response.status_code == 403, origin
    async with websockets.connect(
        url, additional_headers={"Cookie": alice_cookie, "Origin": f"http://127.0.0.1:{port}"}
    ) as own:
        assert json.loads(await own.recv())["you"]["username"] == "alice"
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {alice_token}"}) as script:
        assert json.loads(await script.recv())["you"]["username"] == "alice"
