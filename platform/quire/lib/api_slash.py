"""An /api/ path written without its trailing slash is served by the route it names, not redirected.

Django's APPEND_SLASH answers such a request with a 301, which HTTP clients follow with a GET and no body: a
`POST /api/notebooks` became a list of notebooks. Pages keep Django's redirect.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path
from django.utils.deprecation import MiddlewareMixin


class ServeApiWithoutTrailingSlash(MiddlewareMixin):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path_info
        if path.startswith("/api/") and not path.endswith("/"):
            urlconf = getattr(request, "urlconf", None)
            if not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf):
                request.path_info = f"{path}/"
                request.path = f"{request.path}/"
        return None
