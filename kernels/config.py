"""A notebook's configuration in Polynote's shape: dependencies, repositories, exclusions, Spark and env, validated."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from quire.lib.errors import InvalidInput

# group:artifact:version[:classifier], and Polynote's group:artifact:packaging:classifier:version (classifier may be
# empty), kept as written and given to the resolver as group:artifact:version[:classifier].
MAVEN_PART = re.compile(r"^[A-Za-z0-9_.\-+]+$")
EXCLUSION = re.compile(r"^[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
URL_SCHEMES = ("http", "https", "file")
REPOSITORY_KINDS = ("maven", "ivy", "pip")
# What the platform owns in a kernel's environment; a notebook may not override it.
RESERVED_ENV = frozenset({"PATH", "HOME", "PYTHONPATH", "PYTHONHOME", "LD_PRELOAD", "LD_LIBRARY_PATH", "JAVA_HOME",
                          "TMPDIR", "VIRTUAL_ENV"})
# Spark settings the platform sets from the notebook's dependencies; set them through the dependency lists.
RESERVED_SPARK = frozenset({"spark.jars.packages", "spark.jars.repositories", "spark.jars.excludes", "spark.jars.ivy",
                            "spark.jars.ivySettings"})
MAX_ITEMS = 500
MAX_STRING = 2_000


@dataclass(frozen=True)
class SourcePolicy:
    """Where an admin lets a notebook's dependencies come from beyond http(s) registries.

    file:// repositories and jar URLs only inside `file_roots` (QUIRE_FILE_REPOSITORY_ROOTS) and never inside
    `forbidden` (QUIRE_VAR_DIR: kernels write there, and a build reading a cell's files runs the cell's code);
    requirements naming their own source (`pkg @ URL`) only when `direct_references` (QUIRE_ALLOW_DIRECT_REFERENCES).
    Checked when a config is saved and again when a build starts: a stored config may predate the rule.
    """

    file_roots: tuple[Path, ...] = ()
    forbidden: tuple[Path, ...] = ()
    direct_references: bool = False

    def check_file_url(self, url: str, field: str) -> Path:
        """The real path a file:// URL names (symlinks resolved), or InvalidInput when it is outside every root."""
        path = Path(os.path.realpath(unquote(urlparse(url).path)))
        inside = any(path.is_relative_to(root) for root in self.file_roots)
        if not inside or any(path.is_relative_to(Path(os.path.realpath(f))) for f in self.forbidden):
            allowed = ", ".join(str(r) for r in self.file_roots) or "none are configured"
            raise InvalidInput(
                f"{url!r} is not inside a folder the administrator allows for file:// sources"
                f" (QUIRE_FILE_REPOSITORY_ROOTS: {allowed})", field=field,
            )
        return path


def site_policy() -> SourcePolicy:
    """The installation's policy, from the settings (Django is imported only here)."""
    from django.conf import settings

    return SourcePolicy(
        file_roots=tuple(Path(r) for r in settings.QUIRE_FILE_REPOSITORY_ROOTS),
        forbidden=(Path(settings.QUIRE_VAR_DIR),),
        direct_references=settings.QUIRE_ALLOW_DIRECT_REFERENCES,
    )


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidInput("a list of strings", field=field)
    if len(value) > MAX_ITEMS:
        raise InvalidInput(f"at most {MAX_ITEMS} entries", field=field)
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_STRING:
            raise InvalidInput(f"a non-empty string of at most {MAX_STRING} characters", field=f"{field}[{index}]")
        result.append(item.strip())
    return result


def check_requirement(text: str, field: str, *, policy: SourcePolicy) -> str:
    """A pip requirement string (`pandas>=2`, `pkg[extra]==1.0; python_version>'3'`), or InvalidInput naming it."""
    if text.startswith("-"):
        raise InvalidInput(f"{text!r} is a pip option, not a requirement; put indexes under repositories", field=field)
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise InvalidInput(f"{text!r} is not a pip requirement: {exc}", field=field) from None
    if requirement.url is not None:
        if not policy.direct_references:
            raise InvalidInput(f"{text!r} names its own source; this installation takes packages only from the"
                               " repositories (QUIRE_ALLOW_DIRECT_REFERENCES is off)", field=field)
        check_url(requirement.url, field, policy=policy)
    return text


def _is_jar_url(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in URL_SCHEMES and parsed.path.endswith(".jar")


def _polynote_parts(parts: list[str]) -> bool:
    """group:artifact:packaging:classifier:version, every part but the classifier non-empty."""
    if len(parts) != 5:
        return False
    group, artifact, packaging, classifier, version = parts
    return all(MAVEN_PART.match(part) for part in (group, artifact, packaging, version)) and (
        not classifier or bool(MAVEN_PART.match(classifier)))


def check_coordinate(text: str, field: str, *, policy: SourcePolicy) -> str:
    """group:artifact:version[:classifier], Polynote's group:artifact:packaging:classifier:version, or the URL
    of a jar (Polynote allows all three)."""
    if _is_jar_url(text):
        return check_url(text, field, policy=policy)
    parts = text.split(":")
    if _polynote_parts(parts):
        return text
    if len(parts) not in (3, 4) or not all(MAVEN_PART.match(part) for part in parts):
        raise InvalidInput(
            f"{text!r} is not a Maven coordinate: expected group:artifact:version[:classifier],"
            " group:artifact:packaging:classifier:version or a .jar URL",
            field=field,
        )
    return text


def resolver_coordinate(text: str) -> str:
    """A checked coordinate as the resolver takes it: group:artifact:version[:classifier]."""
    parts = text.split(":")
    if len(parts) != 5:
        return text
    group, artifact, _packaging, classifier, version = parts
    return ":".join([group, artifact, version, *([classifier] if classifier else [])])


def check_url(text: Any, field: str, *, policy: SourcePolicy) -> str:
    if not isinstance(text, str) or len(text) > MAX_STRING:
        raise InvalidInput("a URL string", field=field)
    parsed = urlparse(text.strip())
    located = bool(parsed.path) if parsed.scheme == "file" else bool(parsed.netloc)
    if parsed.scheme not in URL_SCHEMES or not located:
        raise InvalidInput(f"{text!r} is not an http(s):// or file:// URL", field=field)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(f"{text!r} names another host; a file:// URL is file:///path", field=field)
        policy.check_file_url(text.strip(), field)
    return text.strip()


def _repository(value: Any, field: str, *, policy: SourcePolicy) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in REPOSITORY_KINDS:
        raise InvalidInput(
            'a repository is {"maven": {"base": URL}}, {"ivy": {"base": URL}} or {"pip": {"url": URL}}', field=field
        )
    kind, body = next(iter(value.items()))
    key = "url" if kind == "pip" else "base"
    if not isinstance(body, dict) or key not in body:
        raise InvalidInput(f'a {kind} repository is {{"{kind}": {{"{key}": URL}}}}', field=f"{field}.{kind}")
    return {kind: {**body, key: check_url(body[key], f"{field}.{kind}.{key}", policy=policy)}}


def _string_map(value: Any, field: str, *, key_check: re.Pattern[str] | None = None,
                reserved: frozenset[str] = frozenset(), numbers: bool = False) -> dict[str, Any]:
    """Names to strings; with `numbers`, numbers stay numbers as written (Spark reads its settings as text)."""
    if not isinstance(value, dict):
        raise InvalidInput("an object of string values", field=field)
    result: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{field}.{key}"
        if key_check is not None and not key_check.match(key):
            raise InvalidInput(f"{key!r} is not a valid name (letters, digits and '_', not starting with a digit)",
                               field=where)
        if key in reserved:
            raise InvalidInput(f"{key} is set by the platform", field=where)
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise InvalidInput("a string value", field=where)
        result[str(key)] = item if numbers and not isinstance(item, str) else str(item)
    return result


def clean_config(config: Any, *, field: str = "config", policy: SourcePolicy | None = None) -> dict[str, Any]:
    """The configuration as given, each known section checked; unknown keys (sparkTemplate, jvmArgs) carried through.

    Sections that are absent stay absent, so a Polynote file round-trips unchanged. Sources are checked against
    `policy` (the site's when not given).
    """
    policy = site_policy() if policy is None else policy
    if not isinstance(config, dict):
        raise InvalidInput("the configuration is a JSON object", field=field)
    cleaned = dict(config)
    deps = config.get("dependencies")
    if deps is not None:
        if not isinstance(deps, dict):
            raise InvalidInput('dependencies is {"python": [...], "scala": [...]}', field=f"{field}.dependencies")
        deps = dict(deps)
        if "python" in deps:
            where = f"{field}.dependencies.python"
            deps["python"] = [check_requirement(r, f"{where}[{i}]", policy=policy)
                              for i, r in enumerate(_strings(deps["python"], where))]
        if "scala" in deps:
            where = f"{field}.dependencies.scala"
            deps["scala"] = [check_coordinate(c, f"{where}[{i}]", policy=policy)
                             for i, c in enumerate(_strings(deps["scala"], where))]
        cleaned["dependencies"] = deps
    if "repositories" in config:
        repos = config["repositories"]
        if not isinstance(repos, list) or len(repos) > MAX_ITEMS:
            raise InvalidInput("a list of repositories", field=f"{field}.repositories")
        cleaned["repositories"] = [_repository(r, f"{field}.repositories[{i}]", policy=policy)
                                   for i, r in enumerate(repos)]
    if "exclusions" in config:
        where = f"{field}.exclusions"
        exclusions = _strings(config["exclusions"], where)
        for index, item in enumerate(exclusions):
            if not EXCLUSION.match(item):
                raise InvalidInput(f"{item!r} is not group:artifact", field=f"{where}[{index}]")
        cleaned["exclusions"] = exclusions
    if "sparkConfig" in config:
        cleaned["sparkConfig"] = _string_map(config["sparkConfig"], f"{field}.sparkConfig", reserved=RESERVED_SPARK,
                                            numbers=True)
    if "env" in config:
        cleaned["env"] = _string_map(config["env"], f"{field}.env", key_check=ENV_NAME, reserved=RESERVED_ENV)
    if "useSpark" in config and not isinstance(config["useSpark"], bool):
        raise InvalidInput("useSpark is true or false", field=f"{field}.useSpark")
    return cleaned


# ------------------------------------------------------------------ what the environments are built from


@dataclass(frozen=True)
class PythonEnvSpec:
    """Everything a Python environment's content depends on; its key is the hash of that."""

    requirements: tuple[str, ...]
    index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        # Every field (a new one must join the hash): the key is what two notebooks share an environment by.
        body = json.dumps({"r": list(self.requirements), "i": list(self.index_urls), "f": list(self.find_links)},
                          sort_keys=True)
        return "py-" + hashlib.sha256(body.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class JvmEnvSpec:
    """Maven coordinates, their extra repositories and exclusions; jar URLs are used as they are."""

    packages: tuple[str, ...]
    repositories: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    jar_urls: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        # Every field: two configs differing only in a jar URL hold different jars, so share nothing.
        body = json.dumps({"p": list(self.packages), "r": list(self.repositories), "x": list(self.exclusions),
                           "u": list(self.jar_urls)}, sort_keys=True)
        return "ivy-" + hashlib.sha256(body.encode()).hexdigest()[:32]


def _canonical_requirement(text: str) -> str:
    req = Requirement(text)
    req.name = canonicalize_name(req.name)
    return str(req)


def python_env_spec(config: dict[str, Any]) -> PythonEnvSpec | None:
    """The Python environment a (cleaned) config asks for; None when it names no packages."""
    requirements = (config.get("dependencies") or {}).get("python") or []
    if not requirements:
        return None
    index_urls: list[str] = []
    find_links: list[str] = []
    for repo in config.get("repositories") or []:
        url = (repo.get("pip") or {}).get("url")
        if not url:
            continue
        # A file:// folder of wheels is a flat index (pip's --find-links); anything else is a PEP 503 index.
        (find_links if url.startswith("file:") and not url.rstrip("/").endswith("/simple") else index_urls).append(url)
    return PythonEnvSpec(
        requirements=tuple(sorted({_canonical_requirement(r) for r in requirements})),
        index_urls=tuple(index_urls),
        find_links=tuple(find_links),
    )


def jvm_env_spec(config: dict[str, Any]) -> JvmEnvSpec | None:
    """The JVM dependencies a (cleaned) config asks for; None when it names none."""
    deps = (config.get("dependencies") or {}).get("scala") or []
    if not deps:
        return None
    repositories = []
    for repo in config.get("repositories") or []:
        for kind in ("maven", "ivy"):
            base = (repo.get(kind) or {}).get("base")
            if base:
                repositories.append(base)
    return JvmEnvSpec(
        packages=tuple(sorted({resolver_coordinate(d) for d in deps if not _is_jar_url(d)})),
        repositories=tuple(repositories),
        exclusions=tuple(sorted(set(config.get("exclusions") or []))),
        jar_urls=tuple(d for d in deps if _is_jar_url(d)),
    )


def uses_spark(config: dict[str, Any]) -> bool:
    return bool(config.get("useSpark", True))


def full_config(config: dict[str, Any]) -> dict[str, Any]:
    """Every section present (empty where the notebook has none): what the configuration panel edits."""
    deps = config.get("dependencies") or {}
    return {
        **config,
        "dependencies": {**deps, "python": list(deps.get("python") or []), "scala": list(deps.get("scala") or [])},
        "repositories": list(config.get("repositories") or []),
        "exclusions": list(config.get("exclusions") or []),
        "sparkConfig": dict(config.get("sparkConfig") or {}),
        "env": dict(config.get("env") or {}),
        "useSpark": uses_spark(config),
    }
