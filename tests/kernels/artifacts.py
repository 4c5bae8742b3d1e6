"""Tiny artifacts the environment tests and benchmarks build themselves: wheels in a local index, jars in a local Maven repository."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path


def write_wheel(index: Path, name: str, version: str, module_source: str) -> Path:
    """A one-module pure-Python wheel, written by hand (a wheel is a zip with a dist-info and a RECORD)."""
    index.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}"
    files = {
        f"{name}.py": module_source,
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: quire-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    path = index / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            data = text.encode()
            archive.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{member},sha256={digest},{len(data)}")
        record.append(f"{dist}.dist-info/RECORD,,")
        archive.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")
    return path


def javac_jar(work: Path, name: str, sources: dict[str, str], *, classpath: Sequence[Path] = ()) -> Path:
    """Compile Java sources ({relative path: code}) with javac into a jar."""
    src, classes = work / name / "src", work / name / "classes"
    classes.mkdir(parents=True)
    paths = []
    for relative, code in sources.items():
        path = src / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        paths.append(str(path))
    argv = ["javac", "--release", "17", "-d", str(classes)]
    if classpath:
        argv += ["-cp", ":".join(str(p) for p in classpath)]
    subprocess.run([*argv, *paths], check=True, capture_output=True)
    jar = work / name / f"{name}.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        for file in sorted(classes.rglob("*.class")):
            archive.write(file, file.relative_to(classes))
    return jar


def publish_maven(repo: Path, coordinate: str, jar: Path, *, dependencies: Sequence[str] = ()) -> None:
    """Lay a jar and its pom out in a Maven repository folder (group/as/path/artifact/version/)."""
    group, artifact, version = coordinate.split(":")
    folder = repo / group.replace(".", "/") / artifact / version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{artifact}-{version}.jar").write_bytes(jar.read_bytes())
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
        for g, a, v in (d.split(":") for d in dependencies)
    )
    (folder / f"{artifact}-{version}.pom").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">'
        f"<modelVersion>4.0.0</modelVersion><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version><packaging>jar</packaging><dependencies>{deps}</dependencies></project>\n"
    )


def greeter_repository(work: Path) -> Path:
    """A Maven repository with org.quire.demo:greeter:1.0, which depends on org.quire.demo:words:1.0."""
    repo = work / "maven"
    words = javac_jar(work, "words", {
        "demo/words/Words.java":
            'package demo.words; public class Words { public static String via() { return "via a transitive jar"; } }',
    })
    greeter = javac_jar(work, "greeter", {
        "demo/Greeter.java":
            "package demo; public class Greeter {"
            ' public static String greet(String who) { return "hello " + who + " " + demo.words.Words.via(); } }',
    }, classpath=[words])
    publish_maven(repo, "org.quire.demo:words:1.0", words)
    publish_maven(repo, "org.quire.demo:greeter:1.0", greeter, dependencies=["org.quire.demo:words:1.0"])
    return repo


def write_sdist(index: Path, name: str, version: str, backend_source: str) -> Path:
    """An sdist whose build backend is its own code (`backend-path = ["."]`): what runs when a build installs it."""
    import io
    import tarfile

    index.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}"
    files = {
        "pyproject.toml": (f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
                           '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'),
        "backend.py": backend_source,
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    path = index / f"{dist}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{dist}/{member}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
