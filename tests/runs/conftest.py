"""The notebooks' named scenarios (olga's shared notebook, its readers and a stranger) for the runs tests."""

from __future__ import annotations

from tests.notebooks.conftest import (  # noqa: F401
    admin_ada,
    editor_ed,
    member_mo,
    olga,
    olga_client,
    runner_rita,
    shared_notebook,
    stranger_sam,
    superuser_sue,
    team_globex,
    viewer_vic,
)
