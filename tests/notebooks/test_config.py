"""A notebook's configuration: validation naming the entry, the REST panel endpoints, versions and forks, Polynote files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from kernels.config import SourcePolicy, clean_config, jvm_env_spec, python_env_spec
from notebooks import interchange, versioning
from notebooks.models import Notebook
from quire.lib.errors import InvalidInput
from tests.notebooks.conftest import DATA, client_for

URL = "/api/notebooks/{}/config/"

POLYNOTE_CONFIG: dict[str, Any] = {
    "dependencies": {"python": ["requests==2.31.0", "numpy>=1.26; python_version >= '3.9'"],
                     "scala": ["org.typelevel:cats-core_2.13:2.10.0", "org.example:lib:1.0:tests"]},
    "repositories": [
        {"maven": {"base": "https://repo1.maven.org/maven2/"}},
        {"ivy": {"base": "file:///srv/ivy/"}},
        {"pip": {"url": "file:///srv/wheels"}},
    ],
    "exclusions": ["org.slf4j:slf4j-log4j12"],
    "sparkConfig": {"spark.executor.memory": "2g"},
    "env": {"REGION": "eu-west-1"},
    "sparkTemplate": {"name": "carried through"},
}


@pytest.fixture(autouse=True)
def _srv_allowed(settings) -> None:  # type: ignore[no-untyped-def]
    """The examples' file:// repositories live under /srv, which this installation's administrator allows."""
    settings.QUIRE_FILE_REPOSITORY_ROOTS = (Path("/srv"),)


@pytest.mark.parametrize(("config", "field"), [
    ({"dependencies": {"python": ["pandas>=2", "not a requirement!!"]}}, "config.dependencies.python[1]"),
    ({"dependencies": {"python": ["--index-url=http://x"]}}, "config.dependencies.python[0]"),
    ({"dependencies": {"python": "pandas"}}, "config.dependencies.python"),
    ({"dependencies": {"scala": ["org.lib:only-two"]}}, "config.dependencies.scala[0]"),
    ({"dependencies": {"scala": ["a:b:1.0", "a:b:c:d:e:f"]}}, "config.dependencies.scala[1]"),
    ({"dependencies": {"scala": ["a:b:jar:x:"]}}, "config.dependencies.scala[0]"),
    ({"repositories": [{"maven": {"base": "ftp://example.org/"}}]}, "config.repositories[0].maven.base"),
    ({"repositories": [{"conda": {"url": "https://example.org"}}]}, "config.repositories[0]"),
    ({"repositories": [{"pip": {"base": "https://example.org"}}]}, "config.repositories[0].pip"),
    ({"exclusions": ["org.slf4j"]}, "config.exclusions[0]"),
    ({"env": {"1BAD": "x"}}, "config.env.1BAD"),
    ({"env": {"PATH": "/evil"}}, "config.env.PATH"),
    ({"env": {"OK": {"nested": 1}}}, "config.env.OK"),
    ({"sparkConfig": {"spark.jars.packages": "a:b:1"}}, "config.sparkConfig.spark.jars.packages"),
    ({"useSpark": "yes"}, "config.useSpark"),
])
def test_a_malformed_entry_is_refused_naming_it(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_config(config)
    assert caught.value.field == field


def test_the_error_names_the_malformed_value() -> None:
    with pytest.raises(InvalidInput, match="'org.lib:only-two' is not a Maven coordinate"):
        clean_config({"dependencies": {"scala": ["org.lib:only-two"]}})


def test_a_valid_config_is_kept_as_given() -> None:
    assert clean_config(POLYNOTE_CONFIG) == POLYNOTE_CONFIG
    assert clean_config({}) == {}


def test_polynote_five_part_coordinates_and_numeric_spark_settings_are_kept_as_written() -> None:
    config = {"dependencies": {"scala": ["org.example:lib:jar::1.0", "org.example:natives:jar:linux-x86_64:2.1"]},
              "sparkConfig": {"spark.sql.shuffle.partitions": 4, "spark.memory.fraction": 0.5}}
    assert clean_config(config) == config
    jvm = jvm_env_spec(config)
    # The resolver takes group:artifact:version[:classifier]; the notebook keeps Polynote's spelling.
    assert jvm is not None and jvm.packages == ("org.example:lib:1.0", "org.example:natives:2.1:linux-x86_64")


def test_the_environment_key_ignores_spelling_and_order_but_not_content() -> None:
    one = python_env_spec({"dependencies": {"python": ["Pandas >= 2", "requests"]}})
    two = python_env_spec({"dependencies": {"python": ["requests", "pandas>=2"]}})
    other = python_env_spec({"dependencies": {"python": ["requests", "pandas>=2.1"]}})
    indexed = python_env_spec({"dependencies": {"python": ["requests", "pandas>=2"]},
                               "repositories": [{"pip": {"url": "https://example.org/simple"}}]})
    assert one is not None and two is not None and other is not None and indexed is not None
    assert one.key == two.key and one.key.startswith("py-")
    assert len({one.key, other.key, indexed.key}) == 3
    assert indexed.index_urls == ("https://example.org/simple",)
    jvm = jvm_env_spec(POLYNOTE_CONFIG)
    assert jvm is not None and jvm.exclusions == ("org.slf4j:slf4j-log4j12",)
    assert jvm.repositories == ("https://repo1.maven.org/maven2/", "file:///srv/ivy/")
    assert python_env_spec({"dependencies": {"scala": ["a:b:1"]}}) is None


@pytest.mark.django_db
def test_get_shows_every_section_and_the_environment(shared_notebook, viewer_vic) -> None:  # type: ignore[no-untyped-def]
    body = client_for(viewer_vic).get(URL.format(shared_notebook.pk)).json()
    assert body["revision"] == shared_notebook.revision
    assert body["config"] == {"dependencies": {"python": [], "scala": []}, "repositories": [], "exclusions": [],
                              "sparkConfig": {}, "env": {}, "useSpark": True}
    assert body["environment"] == {"python": {"wanted": None, "in_use": None, "resolved": []},
                                   "jvm": {"wanted": None, "in_use": None, "resolved": []}}


@pytest.mark.django_db
def test_an_editor_sets_the_config_and_a_runner_may_not(shared_notebook, editor_ed, runner_rita) -> None:  # type: ignore[no-untyped-def]
    url = URL.format(shared_notebook.pk)
    config = {"sparkConfig": {"spark.sql.shuffle.partitions": 4}, "env": {"REGION": "eu"}, "useSpark": False}
    assert client_for(runner_rita).put(url, {"config": config}, format="json").status_code == 403
    response = client_for(editor_ed).put(url, {"config": config, "revision": shared_notebook.revision}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["revision"] == shared_notebook.revision + 1
    assert response.json()["config"]["sparkConfig"] == {"spark.sql.shuffle.partitions": 4}  # as written
    notebook = Notebook.objects.get(pk=shared_notebook.pk)
    assert notebook.config == {"sparkConfig": {"spark.sql.shuffle.partitions": 4}, "env": {"REGION": "eu"},
                               "useSpark": False}
    stale = client_for(editor_ed).put(url, {"config": {}, "revision": shared_notebook.revision}, format="json")
    assert stale.status_code == 409 and stale.json()["revision"] == shared_notebook.revision + 1


@pytest.mark.django_db
def test_a_bad_config_is_refused_by_the_panel_and_the_draft_put_alike(shared_notebook, editor_ed) -> None:  # type: ignore[no-untyped-def]
    client = client_for(editor_ed)
    bad = {"dependencies": {"python": ["ok", "bad requirement ("]}}
    response = client.put(URL.format(shared_notebook.pk), {"config": bad}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "config.dependencies.python[1]"
    assert "'bad requirement ('" in response.json()["detail"]
    draft = client.put(f"/api/notebooks/{shared_notebook.pk}/draft/",
                       {"revision": shared_notebook.revision, "cells": [], "config": bad}, format="json")
    assert draft.status_code == 400 and draft.json()["field"] == "config.dependencies.python[1]"
    assert Notebook.objects.get(pk=shared_notebook.pk).config == {}


@pytest.mark.django_db
def test_versions_and_forks_carry_their_config(shared_notebook, olga) -> None:  # type: ignore[no-untyped-def]
    url = URL.format(shared_notebook.pk)
    client = client_for(olga)
    assert client.put(url, {"config": {"env": {"STAGE": "one"}}}, format="json").status_code == 200
    first = versioning.check_save_version(olga, shared_notebook.pk, message="stage one").version.number
    assert client.put(url, {"config": {"env": {"STAGE": "two"}}}, format="json").status_code == 200
    fork = versioning.check_fork(olga, shared_notebook.pk, first, title="Old stage")
    assert fork.config == {"env": {"STAGE": "one"}}
    assert Notebook.objects.get(pk=shared_notebook.pk).config == {"env": {"STAGE": "two"}}
    versioning.check_restore(olga, shared_notebook.pk, first)
    assert Notebook.objects.get(pk=shared_notebook.pk).config == {"env": {"STAGE": "one"}}


@pytest.mark.django_db
def test_a_polynote_config_round_trips_through_ipynb(olga) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads((DATA / "polynote.ipynb").read_text())
    raw["metadata"]["config"] = POLYNOTE_CONFIG
    notebook = interchange.check_import(olga, json.dumps(raw).encode(), name="polynote.ipynb")
    assert notebook.config == POLYNOTE_CONFIG
    _, exported = interchange.check_export(olga, notebook.pk)
    assert exported["metadata"]["config"] == POLYNOTE_CONFIG
    again = interchange.check_import(olga, json.dumps(exported).encode(), name="again.ipynb")
    assert again.config == POLYNOTE_CONFIG


@pytest.mark.django_db
def test_an_ipynb_with_a_malformed_coordinate_is_refused_naming_it(olga) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads((DATA / "polynote.ipynb").read_text())
    raw["metadata"]["config"]["dependencies"]["scala"] = ["org.typelevel:cats-core_2.13"]
    with pytest.raises(InvalidInput) as caught:
        interchange.check_import(olga, json.dumps(raw).encode())
    assert caught.value.field == "metadata.config.dependencies.scala[0]"


# ------------------------------------------------------------------ where dependencies may come from


def test_file_sources_are_refused_unless_an_administrator_allows_their_folder(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.QUIRE_FILE_REPOSITORY_ROOTS = ()
    for config, field in (
        ({"repositories": [{"pip": {"url": "file:///srv/wheels"}}]}, "config.repositories[0].pip.url"),
        ({"repositories": [{"maven": {"base": "file:///srv/m2"}}]}, "config.repositories[0].maven.base"),
        ({"dependencies": {"scala": ["a:b:1", "file:///srv/lib.jar"]}}, "config.dependencies.scala[1]"),
    ):
        with pytest.raises(InvalidInput, match="QUIRE_FILE_REPOSITORY_ROOTS: none are configured") as caught:
            clean_config(config)
        assert caught.value.field == field
    settings.QUIRE_FILE_REPOSITORY_ROOTS = (tmp_path / "allowed",)
    (tmp_path / "allowed").mkdir()
    assert clean_config({"dependencies": {"scala": [(tmp_path / "allowed" / "lib.jar").as_uri()]}})
    with pytest.raises(InvalidInput) as caught:
        clean_config({"dependencies": {"scala": [(tmp_path / "elsewhere" / "lib.jar").as_uri()]}})
    assert caught.value.field == "config.dependencies.scala[0]"
    with pytest.raises(InvalidInput):
        clean_config({"dependencies": {"scala": ["file://otherhost/srv/lib.jar"]}})


def test_a_link_out_of_an_allowed_folder_and_a_kernel_writable_folder_are_refused(tmp_path: Path) -> None:
    allowed, var = tmp_path / "allowed", tmp_path / "allowed" / "var"
    (var / "kernels" / "k1").mkdir(parents=True)
    os.symlink("/etc/shadow", allowed / "shadow.jar")
    os.symlink(var / "kernels" / "k1", allowed / "wheels")
    policy = SourcePolicy(file_roots=(allowed,), forbidden=(var,))
    for url in ((allowed / "shadow.jar").as_uri(), (allowed / "wheels").as_uri(), (var / "kernels" / "k1").as_uri(),
                (allowed / ".." / "x.jar").as_uri()):
        config = {"dependencies": {"scala": [url]}} if url.endswith(".jar") else {
            "repositories": [{"pip": {"url": url}}]}
        with pytest.raises(InvalidInput, match="not inside a folder the administrator allows"):
            clean_config(config, policy=policy)


def test_a_requirement_naming_its_own_source_is_refused_unless_allowed(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for text in ("evil @ file:///etc/passwd", "pkg @ https://example.org/pkg-1.0.tar.gz"):
        with pytest.raises(InvalidInput, match="names its own source") as caught:
            clean_config({"dependencies": {"python": ["pandas", text]}})
        assert caught.value.field == "config.dependencies.python[1]"
    settings.QUIRE_ALLOW_DIRECT_REFERENCES = True
    assert clean_config({"dependencies": {"python": ["pkg @ https://example.org/pkg-1.0.tar.gz"]}})
    # Allowed, a direct reference to a file still stays inside the allowed folders.
    with pytest.raises(InvalidInput, match="not inside a folder"):
        clean_config({"dependencies": {"python": ["evil @ file:///etc/passwd"]}})


def test_jar_urls_are_part_of_the_jvm_environment_key() -> None:
    one = jvm_env_spec({"dependencies": {"scala": ["a:b:1", "https://example.org/alice.jar"]}})
    two = jvm_env_spec({"dependencies": {"scala": ["a:b:1", "https://example.org/bob.jar"]}})
    assert one is not None and two is not None
    assert one.packages == two.packages and one.key != two.key


def test_roots_overlapping_the_kernels_folder_stop_the_process(tmp_path: Path) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from quire.config import parse_file_roots

    var = tmp_path / "var"
    (var / "kernels").mkdir(parents=True)
    (tmp_path / "wheels").mkdir()
    os.symlink(var / "kernels", tmp_path / "link")
    assert parse_file_roots(f"{tmp_path / 'wheels'}:", var_dir=var) == (tmp_path / "wheels",)
    for raw in (str(var / "kernels"), str(tmp_path), str(tmp_path / "link"), "relative/path",
                str(tmp_path / "missing")):
        with pytest.raises(ImproperlyConfigured, match="QUIRE_FILE_REPOSITORY_ROOTS"):
            parse_file_roots(raw, var_dir=var)


@pytest.mark.django_db
def test_a_config_pointing_into_a_kernels_work_directory_is_refused_by_the_panel(  # type: ignore[no-untyped-def]
    shared_notebook, editor_ed, settings
) -> None:
    # What a cell learns from /proc/self/mountinfo: its work directory's path on the host.
    workdir = Path(settings.QUIRE_VAR_DIR) / "kernels" / "0f0f0f0f-session"
    for config, field in (
        ({"repositories": [{"pip": {"url": (workdir / "index" / "simple").as_uri()}}]}, "repositories[0].pip.url"),
        ({"dependencies": {"scala": [(workdir / "x.jar").as_uri()]}}, "dependencies.scala[0]"),
        ({"dependencies": {"python": ["evil @ file:///etc/passwd"]}}, "dependencies.python[0]"),
    ):
        response = client_for(editor_ed).put(URL.format(shared_notebook.pk), {"config": config}, format="json")
        assert response.status_code == 400, response.json()
        assert response.json()["field"] == f"config.{field}"
    assert Notebook.objects.get(pk=shared_notebook.pk).config == {}
