"""QUIRE_DATA_ROOTS reach interactive kernels too: a notebook reads the same shared data by hand and in a re-run."""

from __future__ import annotations

import pytest

from kernels.env_services import do_prepare_launch
from notebooks.services import do_create_notebook

pytestmark = pytest.mark.django_db


def test_a_kernel_launches_with_the_data_roots_bound(settings, tmp_path, alice) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "datasets"
    data.mkdir()
    settings.QUIRE_DATA_ROOTS = (data,)
    notebook = do_create_notebook(alice, title="Reads shared data")
    assert str(data) in do_prepare_launch(notebook.pk, config=notebook.config).ro_binds
