"""Django configured once per test session, for every test that runs Django in process."""

from __future__ import annotations

import django
from django.conf import settings


def configure_django() -> None:
    """Configure Django, once; CSRF protection on, as in a default project.

    Tests set ``ROOT_URLCONF`` and the ``RECEIVER_KIT_*`` settings they need with
    ``override_settings``.
    """
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="tests-only",
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF="tests.receiver_kit.test_django",
            INSTALLED_APPS=[],
            MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
            USE_TZ=True,
        )
        django.setup()
