"""The production settings as `make run` uses them on 127.0.0.1 (plain http opted out explicitly), plus one test-only
difference: users that tests create with the fast MD5 hasher can log in to the test servers too."""

import os

os.environ.setdefault("DJANGO_INSECURE_HTTP", "true")

from gis_app.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]

ROOT_URLCONF = "tests.urls"
