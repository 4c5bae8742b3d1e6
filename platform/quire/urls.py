"""HTTP URL routes: pages, the REST API, its schema, and Django admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from quire.output_frame import output_frame

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("quire.accounts.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script as a file rather than inline, which the Content-Security-Policy refuses.
    path(
        "api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("api/", include("quire.accounts.api_urls")),
    path("api/", include("quire.teams.urls")),
    path("api/", include("quire.quotas.urls")),
    path("api/", include("notebooks.api_urls")),
    path("api/", include("kernels.api_urls")),
    path("api/", include("runs.api_urls")),
    path("output-frame/", output_frame, name="output-frame"),
    path("", include("notebooks.urls")),
]

# Errors Django raises itself (a body over the size limit, an unknown URL) answer in JSON under /api/.
handler400 = "quire.errors.bad_request"
handler403 = "quire.errors.permission_denied"
handler404 = "quire.errors.page_not_found"
handler500 = "quire.errors.server_error"
