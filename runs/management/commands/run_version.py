"""`manage.py run_version`: re-run a stored notebook version here, as a worker would, and print its report."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from kernels.core.headless import EXIT_BAD_INPUT, EXIT_CELL_FAILED
from quire.lib.errors import QuireError
from runs import services
from runs.execution import do_run
from runs.models import Run
from runs.report import DIFFERS, FAILED, REPRODUCED

# Exit code of a run that ended but did not reproduce every cell (papermill-like codes 1 and 2 as run_notebook).
EXIT_DIFFERS = 4


class Command(BaseCommand):
    help = ("Re-run a notebook version top to bottom in a fresh sandboxed kernel, as a run record owned by --user, "
            "and print its reproducibility report.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("notebook", type=int, help="notebook id")
        parser.add_argument("version", type=int, help="version number")
        parser.add_argument("--user", required=True, help="who asks for the run (needs the runner role)")
        parser.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                            help="parameter injected after the cell tagged 'parameters' (repeatable)")
        parser.add_argument("--json", action="store_true", help="print the whole run record as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}", returncode=EXIT_BAD_INPUT)
        try:
            run = services.check_start_run(user, options["notebook"], options["version"],
                                           parameters=options["parameter"], here=True)
        except QuireError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from None
        self.stderr.write(f"run_version: run {run.pk} of notebook {run.notebook_id} version {run.version.number}")
        do_run(str(run.pk))
        run = Run.objects.select_related("notebook", "version", "requested_by").get(pk=run.pk)
        if options["json"]:
            self.stdout.write(json.dumps(services.run_json(run), indent=1))
        else:
            self._print_report(run)
        if run.state != Run.State.DONE:
            self.stderr.write(f"run_version: {run.state}: {run.reason}")
            raise SystemExit(EXIT_CELL_FAILED)
        if (run.report.get("summary") or {}).get("reproduced") != len(run.report.get("cells") or []):
            raise SystemExit(EXIT_DIFFERS)

    def _print_report(self, run: Run) -> None:
        for cell in run.report.get("cells") or []:
            cause = f" ({cell['likely_cause']}: {cell['causes'][0]['detail']})" if cell.get("causes") else ""
            self.stdout.write(f"{cell['id']}: {cell['status']}{cause}")
            for line in cell.get("diff") or []:
                self.stdout.write(f"    {line}")
        summary = run.report.get("summary") or {}
        self.stdout.write(", ".join(f"{summary.get(status, 0)} {status}" for status in (REPRODUCED, DIFFERS, FAILED)) +
                          f" in {run.duration_s} s")
