"""The core imports no framework, old imports keep working, and rejections are plain data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from werkzeug.exceptions import HTTPException

import receiver_kit
import receiver_kit.decorator
import receiver_kit.flask
import receiver_kit.wsgi
from receiver_kit import Answer, EventInProgress, InvalidSignature, WebhookRejected


def test_importing_the_kit_imports_no_framework_even_where_they_are_installed() -> None:
    code = ("import json, sys, receiver_kit\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=os.environ, timeout=60, check=True)
    loaded = set(json.loads(result.stdout))
    assert "receiver_kit" in loaded
    assert not loaded & {"flask", "werkzeug", "django", "fastapi", "starlette", "redis",
                         "flask_clawhooks"}


def test_names_that_moved_to_an_adapter_still_import_from_the_package() -> None:
    from receiver_kit import EVENT_ENVIRON_KEY, WebhookMiddleware, current_event, verify_webhook

    assert verify_webhook is receiver_kit.flask.verify_webhook
    assert current_event is receiver_kit.flask.current_event
    assert WebhookMiddleware is receiver_kit.wsgi.WebhookMiddleware
    assert EVENT_ENVIRON_KEY == receiver_kit.wsgi.EVENT_ENVIRON_KEY == "receiver_kit.event"
    assert receiver_kit.decorator.verify_webhook is verify_webhook


def test_an_unknown_name_is_an_attribute_error_not_none() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        receiver_kit.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_get_response_is_gone_and_says_what_each_framework_uses_instead() -> None:
    exc = InvalidSignature()
    assert not hasattr(exc, "get_response")
    with pytest.raises(AttributeError) as info:
        exc.get_response()
    message = str(info.value)
    for replacement in ("receiver_kit.flask.rejection_response",
                        "receiver_kit.django.rejection_response",
                        "receiver_kit.fastapi.http_exception"):
        assert replacement in message


def test_a_rejection_is_plain_data_that_no_framework_reads_as_a_response() -> None:
    exc = EventInProgress(retry_after=7)
    assert not isinstance(exc, HTTPException)
    assert (exc.status, exc.error_code, exc.headers) == (503, "event_in_progress",
                                                         (("Retry-After", "7"),))
    assert (exc.code, exc.description) == (exc.status, exc.message)  # the 0.1 names
    answer = exc.answer
    assert (answer.status, answer.content_type, answer.headers, answer.ok) == (
        503, "application/json", (("Retry-After", "7"),), False)
    assert json.loads(answer.body) == {"error": {"code": "event_in_progress",
                                                 "message": exc.message}}
    # FastAPI serialises an unknown object through dict() or vars(): both fail.
    with pytest.raises(TypeError, match="not a response"):
        vars(exc)
    with pytest.raises(TypeError, match="__dict__"):
        vars(answer)
    with pytest.raises(TypeError, match="not a response"):
        dict(answer)  # type: ignore[call-overload]


def test_a_rejection_message_can_be_replaced_and_stays_a_rejection() -> None:
    exc = InvalidSignature("Only the standard headers are accepted here.")
    assert isinstance(exc, WebhookRejected)
    assert exc.answer == Answer(401, {"error": {
        "code": "invalid_signature", "message": "Only the standard headers are accepted here."}})
    assert str(exc) == exc.message
