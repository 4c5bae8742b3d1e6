"""REST endpoints of the running-kernels panel (list the caller's kernels, shut one down, their quota and use) and
of the kernel pools (site admins)."""

from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kernels.pools import check_pool_report, check_set_pool_size
from kernels.running import check_shutdown_kernel, list_running_kernels, usage_report
from quire.lib.pagination import PAGE, paginated


class RunningKernelListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("all", bool, description="site admins: every user's kernels"), *PAGE],
        responses=OpenApiTypes.OBJECT,
        description="A page of running kernels, with the caller's `max_kernels` beside it.",
    )
    def get(self, request: Request) -> Response:
        everyone = request.query_params.get("all") in ("1", "true")
        running = list_running_kernels(request.user, everyone=everyone)
        return paginated(request, self, running["kernels"], lambda page: page, max_kernels=running["max_kernels"])


class KernelShutdownView(APIView):
    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, session_id: uuid.UUID) -> Response:
        check_shutdown_kernel(request.user, session_id)
        return Response({"stopping": True}, status=status.HTTP_202_ACCEPTED)


class MyQuotaView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(usage_report(request.user))


class KernelPoolListView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT,
                   description="Site admins: each kernel pool's size and its waiting kernels with their memory; for "
                               "JVM kernels whose warm-ups failed, how many in a row (`jvm_failures`), the last "
                               "one's reason (`jvm_error`) and when the next is tried (`jvm_retry_at`).")
    def get(self, request: Request) -> Response:
        return Response(check_pool_report(request.user))


class KernelPoolView(APIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT,
                   description="Site admins: how many kernels the environment's pool keeps (`{size, jvm_size}`, either "
                               "may be left out; 0 keeps none): `size` Python ones, `jvm_size` ones whose JVM (Spark "
                               "and the Scala compiler) is warm for notebooks' first Scala cells.")
    def put(self, request: Request, environment: str) -> Response:
        return Response(check_set_pool_size(request.user, environment, request.data.get("size"),
                                            jvm_size=request.data.get("jvm_size")))
