"""REST endpoints of runs: versions' locks and their differences; re-runs of versions, listed, read, cancelled;
jobs that re-run a version on a schedule."""

from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from notebooks.http import NotebookAPIView
from quire.lib.errors import InvalidInput
from quire.lib.pagination import PAGE, paginated
from quire.lib.responses import created
from runs import jobs, services


class VersionLockView(NotebookAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, description="What the version was saved with (its lock).")
    def get(self, request: Request, notebook_id: int, number: int) -> Response:
        return Response(services.get_lock(request.user, notebook_id, number))


class LockDiffView(NotebookAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("from", int, required=True), OpenApiParameter("to", int, required=True)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, notebook_id: int) -> Response:
        return Response(services.check_lock_diff(request.user, notebook_id,
                                                 from_ref=request.query_params.get("from"),
                                                 to_ref=request.query_params.get("to")))


class VersionRunView(NotebookAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT},
                   description="Re-run the version top to bottom on a worker, in a fresh sandbox: `{parameters?}`.")
    def post(self, request: Request, notebook_id: int, number: int) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        run = services.check_start_run(request.user, notebook_id, number, parameters=data.get("parameters"))
        return created(request, services.run_json(run), view_name="api-run", run_id=run.pk)


class NotebookRunListView(NotebookAPIView):
    @extend_schema(parameters=PAGE, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, notebook_id: int) -> Response:
        runs = services.list_runs(request.user, notebook_id=notebook_id)
        return paginated(request, self, runs, lambda page: [services.run_json(r, full=False) for r in page])


class MyRunListView(NotebookAPIView):
    # Named: drf-spectacular would call this and the run detail both "runs_retrieve".
    @extend_schema(parameters=PAGE, responses=OpenApiTypes.OBJECT, operation_id="runs_list")
    def get(self, request: Request) -> Response:
        return paginated(request, self, services.list_runs(request.user),
                         lambda page: [services.run_json(r, full=False) for r in page])


class RunDetailView(NotebookAPIView):
    @extend_schema(parameters=[OpenApiParameter("outputs", str, description="0: each cell without its outputs")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, run_id: uuid.UUID) -> Response:
        outputs = request.query_params.get("outputs") not in ("0", "false")
        return Response(services.run_json(services.get_run(request.user, run_id), outputs=outputs))


class RunCancelView(NotebookAPIView):
    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, run_id: uuid.UUID) -> Response:
        run = services.check_cancel_run(request.user, run_id)
        return Response(services.run_json(run, full=False), status=status.HTTP_202_ACCEPTED)


class NotebookJobListView(NotebookAPIView):
    @extend_schema(parameters=PAGE, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, notebook_id: int) -> Response:
        return paginated(request, self, jobs.list_jobs(request.user, notebook_id=notebook_id),
                         lambda page: [jobs.job_json(j) for j in page])

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT},
                   description="Schedule runs: `{cron, version?, parameters?}` (no version: the latest when it fires).")
    def post(self, request: Request, notebook_id: int) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        version = data.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise InvalidInput("version is a version number, or null for the latest", field="version")
        job = jobs.check_create_job(request.user, notebook_id, cron=str(data.get("cron") or ""), version=version,
                                    parameters=data.get("parameters"))
        return created(request, jobs.job_json(job), view_name="api-job", job_id=job.pk)


class JobListView(NotebookAPIView):
    @extend_schema(parameters=[OpenApiParameter("all", bool, description="site admins: every job"), *PAGE],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        everyone = request.query_params.get("all") in ("1", "true")
        return paginated(request, self, jobs.list_jobs(request.user, everyone=everyone),
                         lambda page: [jobs.job_json(j) for j in page])


class JobDetailView(NotebookAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request, job_id: int) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        enabled = data.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise InvalidInput("enabled is true or false", field="enabled")
        cron = data.get("cron")
        job = jobs.check_update_job(request.user, job_id, enabled=enabled,
                                    cron=None if cron is None else str(cron), parameters=data.get("parameters"))
        return Response(jobs.job_json(job))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, job_id: int) -> Response:
        jobs.check_delete_job(request.user, job_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
