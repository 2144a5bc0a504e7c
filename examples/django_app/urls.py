"""The example's URLs."""

from __future__ import annotations

from django.urls import path

from . import connect, views

urlpatterns = [
    path("reports", views.create_report, name="create_report"),
    path("jobs/<uuid:job_id>", views.job_status, name="job_status"),
    path("connect/<str:provider>", connect.connect_start, name="connect_start"),
    path("oauth/callback", connect.oauth_callback, name="oauth_callback"),
]
