"""`manage.py run_notebook`: the headless runner of kernels.core.headless as a management command."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kernels.core import headless
from kernels.core.errors import HeadlessError


class Command(BaseCommand):
    help = "Run a notebook (.ipynb, Jupyter or Polynote flavour) top to bottom and write its results."

    def add_arguments(self, parser: ArgumentParser) -> None:
        headless.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report, target = headless.execute(
                options["input"],
                output=options["output"],
                parameters=options["parameter"],
                output_limit=options["output_limit"],
            )
        except HeadlessError as exc:
            raise CommandError(str(exc)) from None
        if report.failure is not None:
            self.stderr.write(f"run_notebook: {report.failure.describe()} (results in {target})")
            raise SystemExit(headless.EXIT_CELL_FAILED)
        self.stdout.write(f"ran {options['input']}, results in {target}")
