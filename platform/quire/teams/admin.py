"""Django admin for teams."""

from __future__ import annotations

from django.contrib import admin

from quire.teams.models import Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]
