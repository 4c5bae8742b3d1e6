"""The frame HTML and JavaScript outputs run in: sandboxed to scripts, its own policy, framed by the site only."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_output_frame_is_sandboxed_by_its_own_policy_and_needs_no_session() -> None:
    response = Client().get("/output-frame/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = [part.strip() for part in response["Content-Security-Policy"].split(";")]
    # Without allow-same-origin its scripts run under an opaque origin, even when the frame is opened directly.
    assert "sandbox allow-scripts" in policy
    assert "frame-ancestors 'self'" in policy
    assert "default-src 'none'" in policy
    assert not any(part.startswith("connect-src") for part in policy)  # default-src 'none' forbids fetches home
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert b"quireOutputHtml" in response.content
    assert b"</script>\" +" not in response.content  # the written reporter cannot end the frame's own script


def test_the_output_frame_answers_reads_only() -> None:
    assert Client().post("/output-frame/").status_code == 405
