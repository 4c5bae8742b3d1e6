"""Create a demo superuser when the database has no user, printing its credentials once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from quire.accounts.services import ensure_demo_admin


class Command(BaseCommand):
    help = "Create a superuser 'admin' with a random password if there is no user yet."

    def handle(self, *args: Any, **options: Any) -> None:
        admin = ensure_demo_admin()
        if admin is None:
            self.stdout.write("Users exist already; no demo admin created.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the first admin — username: {admin.username}  password: {admin.password}\n"
                "This password is shown once; change it under /admin/."
            )
        )
