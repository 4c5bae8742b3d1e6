"""Page routes served to the browser; the front end takes over from there."""

from __future__ import annotations

from django.urls import path

from notebooks.views import notebook_list_page, notebook_page, profile_page

urlpatterns = [
    path("", notebook_list_page, name="notebook-list"),
    path("profile/", profile_page, name="profile"),
    path("notebooks/<int:notebook_id>/", notebook_page, name="notebook"),
]
