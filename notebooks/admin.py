"""Django admin for notebooks: recovering soft-deleted ones, grants, and read-only versions and audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notebooks.models import AuditEntry, Grant, Notebook, NotebookVersion
from notebooks.services import do_recover_notebook


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Deleted"), ("no", "Live")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Notebook]) -> QuerySet[Notebook]:
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class GrantInline(admin.TabularInline):
    model = Grant
    fk_name = "notebook"
    extra = 0
    raw_id_fields = ["user", "team", "created_by"]


@admin.register(Notebook)
class NotebookAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "team", "revision", "updated_at", "deleted_at"]
    list_filter = [DeletedFilter]
    search_fields = ["title", "owner__username"]
    raw_id_fields = ["owner", "team", "head_version", "forked_from", "deleted_by"]
    readonly_fields = ["revision", "created_at", "updated_at", "deleted_at", "deleted_by"]
    inlines = [GrantInline]
    actions = ["recover"]

    @admin.action(description="Recover the selected deleted notebooks")
    def recover(self, request: HttpRequest, queryset: QuerySet[Notebook]) -> None:
        recovered = 0
        for notebook in queryset.filter(deleted_at__isnull=False):
            do_recover_notebook(notebook, actor=request.user)  # type: ignore[arg-type]
            recovered += 1
        self.message_user(request, f"Recovered {recovered} notebook(s).", messages.SUCCESS)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(NotebookVersion)
class NotebookVersionAdmin(ReadOnlyAdmin):
    list_display = ["notebook", "number", "author", "message", "created_at", "content_hash"]
    search_fields = ["notebook__title", "message"]
    list_select_related = ["notebook", "author"]


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["notebook", "user", "team", "role", "created_by", "created_at"]
    raw_id_fields = ["notebook", "user", "team", "created_by"]
    list_select_related = ["notebook", "user", "team", "created_by"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor", "notebook_title", "target"]
    list_filter = ["action"]
    search_fields = ["notebook_title", "target", "actor__username"]
