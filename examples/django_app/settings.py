"""Settings of the example Django project.

Django keeps its own data (the ``Report`` model) in SQLite: ``EXAMPLE_DJANGO_DB``, by default
``django.db`` next to this file. syncjobs does not read these settings: it reads
``SYNCJOBS_*`` from the environment (``SYNCJOBS_DATABASE_URL`` for its ledger,
``SYNCJOBS_BROKER_URL``, ``SYNCJOBS_IMPORTS``), like the workers that run its jobs. The ledger
may live in another database than Django's: it always has a connection of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-example-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "true").lower() in ("1", "true", "yes")
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = ["examples.django_app"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    # syncjobs errors as JSON answers: not found 404, invalid input 422, too many jobs 429...
    "examples.django_app.middleware.SyncJobsErrorMiddleware",
]
ROOT_URLCONF = "examples.django_app.urls"
WSGI_APPLICATION = "examples.django_app.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DJANGO_DB", str(BASE_DIR / "django.db")),
        # The web process and the workers write to the same file.
        "OPTIONS": {"timeout": 20},
    }
}
# Left off here on purpose; with ATOMIC_REQUESTS = True the view that submits still works, as it
# is marked @transaction.non_atomic_requests (see views.py).
# ATOMIC_REQUESTS = True

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
