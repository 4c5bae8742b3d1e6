"""Django admin for quotas: where site admins set cluster limits."""

from __future__ import annotations

from django.contrib import admin

from quire.quotas.models import Quota


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["scope", "team", "user", "max_kernels", "memory_mb", "disk_mb", "cell_time_limit_s", "network"]
    list_filter = ["scope", "network"]
