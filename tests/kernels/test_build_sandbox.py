"""Environment builds run the notebook's choices (an sdist's build backend, jar URLs) in a sandbox of their own:
not root, none of the server's secrets, no view of kernels' files, and nothing taken out but regular files."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from kernels import environments
from kernels.build_sandbox import BUILD_UID_BASE, BUILD_UID_COUNT
from kernels.config import SourcePolicy, jvm_env_spec, python_env_spec
from kernels.launchers import KERNEL_UID_BASE, KERNEL_UID_COUNT
from tests.kernels.artifacts import write_sdist

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="make test installs bubblewrap")

# A build backend that reports what it can see and do, then fails so that uv prints its output into the build log.
PROBE_BACKEND = '''
import os
import socket

def _try(what, action):
    try:
        action()
        print(f"PROBE {what} ok", flush=True)
    except OSError as exc:
        print(f"PROBE {what} {type(exc).__name__}", flush=True)

def _probe():
    print(f"PROBE uid {os.getuid()} {os.geteuid()}", flush=True)
    print(f"PROBE env {' '.join(sorted(os.environ))}", flush=True)
    _try("shadow", lambda: open("/etc/shadow").read())
    _try("kernel", lambda: open(os.environ["PROBE_KERNEL_FILE"] if "PROBE_KERNEL_FILE" in os.environ
                                else KERNEL_FILE).read())
    _try("index-write", lambda: open(INDEX_FILE, "w").write("planted"))
    _try("envs-write", lambda: open(ENVS_FILE, "w").write("planted"))
    for host in ("127.0.0.1", "10.0.2.2"):
        for port in (5432, 6379):
            _try(f"connect-{host}:{port}", lambda: socket.create_connection((host, port), timeout=5).close())

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _probe()
    raise SystemExit("probe done")

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _probe()
    raise SystemExit("probe done")
'''


@pytest.fixture
def server_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's environment holds the server's secrets (as a real worker's does)."""
    monkeypatch.setenv("SECRET_KEY", "the-server-secret-key-0123456789")
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/quire")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")


def _probe_lines(log: str) -> dict[str, str]:
    found = {}
    for line in log.splitlines():
        _, marker, rest = line.partition("PROBE ")
        if marker:
            what, _, value = rest.strip().partition(" ")
            found[what] = value
    return found


def test_a_build_backend_runs_unprivileged_without_secrets_or_sight_of_kernels(
    tmp_path: Path, server_secrets: None
) -> None:
    var = tmp_path / "var"
    kernel_dir = var / "kernels" / "session-1"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "notes.txt").write_text("another user's work")
    index = tmp_path / "index"
    backend = (PROBE_BACKEND.replace("KERNEL_FILE", repr(str(kernel_dir / "notes.txt")))
               .replace("INDEX_FILE", repr(str(index / "planted.txt")))
               .replace("ENVS_FILE", repr(str(var / "envs" / "planted.txt"))))
    write_sdist(index, "probe", "1.0", backend)
    spec = python_env_spec({"dependencies": {"python": ["probe==1.0"]},
                            "repositories": [{"pip": {"url": index.as_uri()}}]})
    assert spec is not None
    policy = SourcePolicy(file_roots=(index,), forbidden=(var,))
    with pytest.raises(environments.EnvironmentBuildError) as caught:
        environments.build_python_env(spec, root=var / "envs", policy=policy)
    probe = _probe_lines(caught.value.log)
    assert "uid" in probe, caught.value.log
    uid, euid = (int(x) for x in probe["uid"].split())
    assert uid == euid and uid != 0
    assert not KERNEL_UID_BASE <= uid < KERNEL_UID_BASE + KERNEL_UID_COUNT
    if os.geteuid() == 0:
        assert BUILD_UID_BASE <= uid < BUILD_UID_BASE + BUILD_UID_COUNT
    names = set(probe["env"].split())
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"} & names, names
    assert probe["shadow"] != "ok" and probe["kernel"] != "ok"
    assert probe["index-write"] != "ok" and probe["envs-write"] != "ok"
    assert not (index / "planted.txt").exists() and not (var / "envs" / "planted.txt").exists()
    # The build had network (PyPI is its default index) but no way to the host's PostgreSQL or Redis.
    connects = {what: value for what, value in probe.items() if what.startswith("connect-")}
    assert len(connects) == 4 and "ok" not in connects.values(), connects


def _jar(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("owner.txt", text)
    return path


def test_jar_urls_are_part_of_the_key_and_each_config_gets_its_own_jars(tmp_path: Path) -> None:
    jars = tmp_path / "jars"
    alice = _jar(jars / "alice", "lib.jar", "alice")
    bob = _jar(jars / "bob", "lib.jar", "bob")
    policy = SourcePolicy(file_roots=(jars,))
    specs = [jvm_env_spec({"dependencies": {"scala": [jar.as_uri()]}, "useSpark": True}) for jar in (alice, bob)]
    assert specs[0] is not None and specs[1] is not None
    assert specs[0].key != specs[1].key
    owners = []
    for spec in specs:
        assert spec is not None
        built = environments.build_jvm_env(spec, root=tmp_path / "envs", policy=policy)
        assert [Path(j).name for j in built.jars] == ["lib.jar"]
        with zipfile.ZipFile(built.jars[0]) as archive:
            owners.append(archive.read("owner.txt").decode())
        assert os.stat(built.jars[0]).st_uid == os.geteuid()
    assert owners == ["alice", "bob"]


@pytest.mark.parametrize("target", ["/etc/shadow", "outside"])
def test_a_jar_url_leading_out_of_the_allowed_folders_is_refused_and_nothing_copied(
    tmp_path: Path, target: str
) -> None:
    allowed = tmp_path / "jars"
    allowed.mkdir()
    outside = _jar(tmp_path / "private", "secret.jar", "private")
    os.symlink("/etc/shadow" if target == "/etc/shadow" else outside, allowed / "evil.jar")
    for url in ((allowed / "evil.jar").as_uri(), outside.as_uri()):
        spec = jvm_env_spec({"dependencies": {"scala": [url]}})
        assert spec is not None
        with pytest.raises(environments.EnvironmentBuildError, match="not inside a folder the administrator allows"):
            environments.build_jvm_env(spec, root=tmp_path / "envs", policy=SourcePolicy(file_roots=(allowed,)))
        assert environments.published(tmp_path / "envs", spec.key) is None
    envs = tmp_path / "envs"
    assert not [p for p in envs.rglob("*") if p.is_file() and p.suffix == ".jar"] if envs.exists() else True


def test_a_stored_direct_reference_is_refused_at_build_time(tmp_path: Path) -> None:
    # A config saved before the rule: the builder checks again.
    spec = python_env_spec({"dependencies": {"python": ["evil @ file:///etc/passwd"]}})
    assert spec is not None
    with pytest.raises(environments.EnvironmentBuildError, match="names its own source"):
        environments.build_python_env(spec, root=tmp_path / "envs", policy=SourcePolicy())
    assert environments.published(tmp_path / "envs", spec.key) is None


# ------------------------------------------------------------------ through the platform: the worker builds


@pytest.mark.django_db(transaction=True)
def test_the_worker_builds_a_notebooks_sdist_without_root_or_its_secrets(
    celery_worker, file_sources: Path, settings, alice  # type: ignore[no-untyped-def]
) -> None:
    """The attack as reported: a notebook's config points at an index holding an sdist whose backend is its own code.
    The worker (root, SECRET_KEY and DATABASE_URL in its environment) builds it."""
    import uuid

    from kernels.models import Environment
    from notebooks.configuration import check_set_config
    from notebooks.services import do_create_notebook
    from tests.support import wait_until

    settings.QUIRE_FILE_REPOSITORY_ROOTS = (file_sources,)
    index = file_sources / uuid.uuid4().hex[:12]
    kernels_dir = Path(settings.QUIRE_VAR_DIR) / "kernels"
    backend = (PROBE_BACKEND.replace("KERNEL_FILE", repr(str(kernels_dir / "any" / "notes.txt")))
               .replace("INDEX_FILE", repr(str(index / "planted.txt")))
               .replace("ENVS_FILE", repr(str(Path(settings.QUIRE_VAR_DIR) / "envs" / "planted.txt"))))
    name = f"probe{uuid.uuid4().hex[:8]}"
    write_sdist(index, name, "1.0", backend)
    notebook = do_create_notebook(alice, title="Probe")
    view = check_set_config(alice, notebook.pk, config={"dependencies": {"python": [f"{name}==1.0"]},
                                                        "repositories": [{"pip": {"url": index.as_uri()}}]})
    key = view["environment"]["python"]["wanted"]["key"]

    def done() -> bool:
        celery_worker.check_alive()
        return Environment.objects.filter(key=key, state__in=["ready", "failed"]).exists()

    wait_until(done, timeout=180, what="the worker to build the environment")
    env = Environment.objects.get(key=key)
    probe = _probe_lines(env.log)
    assert env.state == "failed" and "uid" in probe, env.log
    assert int(probe["uid"].split()[0]) != 0
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"} & set(probe["env"].split())
    assert probe["shadow"] != "ok" and probe["envs-write"] != "ok" and probe["index-write"] != "ok"
    assert "ok" not in {v for k, v in probe.items() if k.startswith("connect-")}
