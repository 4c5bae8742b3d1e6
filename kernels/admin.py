"""Django admin for the kernel pools: their sizes (a site admin's setting) and the kernels waiting in them, with
their memory from their hosts' heartbeats. Kernels are started and ended by the pools, never from here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from kernels.models import KernelPool, PooledKernel


@admin.register(KernelPool)
class KernelPoolAdmin(admin.ModelAdmin):
    list_display = ["environment", "size", "jvm_size", "jvm_failures", "jvm_failed_at"]
    readonly_fields = ["jvm_failures", "jvm_failed_at", "jvm_error"]


@admin.register(PooledKernel)
class PooledKernelAdmin(admin.ModelAdmin):
    list_display = ["environment", "warm", "state", "memory_mib", "cpu_seconds", "created_at", "ready_at", "heartbeat_at"]
    list_filter = ["environment", "warm", "state"]

    @admin.display(description="memory (MiB)")
    def memory_mib(self, pooled: PooledKernel) -> str:
        return f"{pooled.rss_bytes / 2**20:.1f}" if pooled.rss_bytes else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
