"""A notebook's configuration: validation naming the entry, the REST panel endpoints, versions and forks, Polynote files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from notebooks import interchange, versioning
from notebooks.config import clean_config, jvm_env_spec, python_env_spec
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


@pytest.mark.parametrize(("config", "field"), [
    ({"dependencies": {"python": ["pandas>=2", "not a requirement!!"]}}, "config.dependencies.python[1]"),
    ({"dependencies": {"python": ["--index-url=http://x"]}}, "config.dependencies.python[0]"),
    ({"dependencies": {"python": "pandas"}}, "config.dependencies.python"),
    ({"dependencies": {"scala": ["org.lib:only-two"]}}, "config.dependencies.scala[0]"),
    ({"dependencies": {"scala": ["a:b:1.0", "a:b:c:d:e"]}}, "config.dependencies.scala[1]"),
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
    assert response.json()["config"]["sparkConfig"] == {"spark.sql.shuffle.partitions": "4"}
    notebook = Notebook.objects.get(pk=shared_notebook.pk)
    assert notebook.config == {"sparkConfig": {"spark.sql.shuffle.partitions": "4"}, "env": {"REGION": "eu"},
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
