"""`manage.py run_notebook`: the headless runner of kernels.core.headless, in the notebook's own environments.

The notebook's `dependencies` and `repositories` are built as the platform builds them (the same content-addressed
environments under QUIRE_VAR_DIR/envs, the same sandboxed installer, the same QUIRE_FILE_REPOSITORY_ROOTS rule), so
a notebook that runs on the platform runs here. With a Python environment the run happens in a child process of the
environment's python, as a kernel's does; resolved jars reach Spark through `--spark-conf`.
"""

from __future__ import annotations

import os
import subprocess
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kernels import environments
from kernels.config import PythonEnvSpec, clean_config, site_policy
from kernels.core import headless
from kernels.core.errors import HeadlessError
from kernels.env_services import env_root, wanted_specs
from kernels.launchers import CODE_ROOT
from kernels.models import Environment
from quire.lib.errors import InvalidInput


class Command(BaseCommand):
    help = ("Run a notebook (.ipynb, Jupyter or Polynote flavour) top to bottom, in the environment its configuration "
            "asks for, and write its results.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        headless.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            document = headless.load(options["input"])
        except HeadlessError as exc:
            raise CommandError(str(exc), returncode=headless.EXIT_BAD_INPUT) from None
        built = self._build(document.config)
        python = built.get(Environment.Kind.PYTHON)
        jvm = built.get(Environment.Kind.JVM)
        spark_conf = list(options["spark_conf"])
        if jvm is not None:
            own = document.config.get("sparkConfig") or {}
            spark_conf += [f"{k}={v}" for k, v in environments.spark_config_with_jars(own, jvm.jars).items()
                           if own.get(k) != v]
        if python is not None and python.python is not None:
            raise SystemExit(self._run_in(python.python, options, spark_conf))
        try:
            report, target = headless.execute(
                options["input"],
                output=options["output"],
                parameters=options["parameter"],
                output_limit=options["output_limit"],
                spark_conf=spark_conf,
            )
        except HeadlessError as exc:
            raise CommandError(str(exc), returncode=headless.EXIT_BAD_INPUT) from None
        if report.failure is not None:
            self.stderr.write(f"run_notebook: {report.failure.describe()} ({headless.describe_target(target)})")
            raise SystemExit(headless.EXIT_CELL_FAILED)
        # With `-o -` stdout holds the results alone.
        (self.stderr if target is None else self.stdout).write(
            f"ran {options['input']}, {headless.describe_target(target)}")

    def _build(self, config: dict[str, Any]) -> dict[str, environments.BuiltEnvironment]:
        """Each environment the configuration asks for, built (or found built); progress to stderr."""
        policy = site_policy()
        try:
            specs = wanted_specs(clean_config(config, field="metadata.config", policy=policy))
        except InvalidInput as exc:
            raise CommandError(f"{exc.field}: {exc}", returncode=headless.EXIT_BAD_INPUT) from None
        built: dict[str, environments.BuiltEnvironment] = {}
        for kind, spec in specs.items():
            self.stderr.write(f"run_notebook: {kind} environment {spec.key}")

            def progress(line: str) -> None:
                self.stderr.write(line, ending="")

            try:
                if isinstance(spec, PythonEnvSpec):
                    env = environments.build_python_env(spec, root=env_root(), policy=policy, progress=progress)
                else:
                    env = environments.build_jvm_env(spec, root=env_root(), policy=policy, progress=progress)
            except environments.EnvironmentBuildError as exc:
                raise CommandError(f"{exc}\n{environments.tail(exc.log)}",
                                   returncode=headless.EXIT_ENVIRONMENT) from None
            self.stderr.write(f"run_notebook: {kind} environment {env.key} "
                              f"{'already built' if env.cached else f'built in {env.seconds:g} s'}")
            built[kind] = env
        return built

    def _run_in(self, python: str, options: dict[str, Any], spark_conf: list[str]) -> int:
        """The headless runner in the environment's python; its exit code."""
        argv = [python, "-m", "kernels.core.headless", options["input"], "--output-limit", str(options["output_limit"])]
        if options["output"]:
            argv += ["-o", options["output"]]
        for item in options["parameter"]:
            argv += ["-p", item]
        for item in spark_conf:
            argv += ["--spark-conf", item]
        env = dict(os.environ)
        # The engine's code from this checkout; the environment's scripts first on PATH, and Spark's Python workers
        # in the same environment (as a kernel's are).
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(CODE_ROOT), env.get("PYTHONPATH")) if p)
        env["PATH"] = os.pathsep.join(p for p in (str(Path(python).parent), env.get("PATH")) if p)
        env["PYSPARK_PYTHON"] = python
        return subprocess.run(argv, env=env, check=False).returncode
