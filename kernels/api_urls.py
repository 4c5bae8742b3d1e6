"""REST routes of the kernels app: the running-kernels panel and the kernel pools."""

from __future__ import annotations

from django.urls import path

from kernels.views import (
    KernelPoolListView,
    KernelPoolView,
    KernelShutdownView,
    MyQuotaView,
    RunningKernelListView,
)

urlpatterns = [
    path("me/quota/", MyQuotaView.as_view(), name="api-my-quota"),
    path("kernels/", RunningKernelListView.as_view(), name="api-kernels"),
    path("kernels/<uuid:session_id>/shutdown/", KernelShutdownView.as_view(), name="api-kernel-shutdown"),
    path("kernel-pools/", KernelPoolListView.as_view(), name="api-kernel-pools"),
    path("kernel-pools/<str:environment>/", KernelPoolView.as_view(), name="api-kernel-pool"),
]
