"""Remove notebooks soft-deleted longer ago than the retention period, with their versions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from notebooks.services import RETENTION_DAYS, do_purge_deleted


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=RETENTION_DAYS, help="retention period in days")

    def handle(self, *args: Any, days: int, **options: Any) -> None:
        purged = do_purge_deleted(deleted_before=timezone.now() - timedelta(days=days))
        self.stdout.write(f"purged {purged} notebook(s) deleted more than {days} days ago")
