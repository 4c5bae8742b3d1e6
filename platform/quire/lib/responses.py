"""The REST responses with a convention of their own: a 201 names what it made in `Location`."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response


def created(request: Request, data: Any, *, view_name: str, **kwargs: Any) -> Response:
    """201 Created with `data` and the absolute URL of the new resource's route `view_name` in `Location`."""
    location = request.build_absolute_uri(reverse(view_name, kwargs=kwargs))
    return Response(data, status=status.HTTP_201_CREATED, headers={"Location": location})
