"""One options object for every adapter: the same checks, the same errors, the same defaults.

Before 0.2 the Flask decorator refused ``require_standard="no"`` while the WSGI middleware
turned it into ``True`` with ``bool()``; now every adapter hands its six arguments to
:class:`receiver_kit.ReceiverConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

import receiver_kit
import receiver_kit.headers
import receiver_kit.signature
import receiver_kit.standard
from receiver_kit import (
    DEFAULT_ALLOWLIST,
    DEFAULT_TOLERANCE,
    ConfigurationError,
    IPAllowlist,
    MemoryIdempotencyStore,
    ReceiverConfig,
    ReceiverOptions,
)
from receiver_kit.asgi import WebhookMiddleware as AsgiMiddleware
from receiver_kit.django import verify_webhook as django_verify_webhook
from receiver_kit.fastapi import WebhookVerifier
from receiver_kit.flask import settings_source
from receiver_kit.flask import verify_webhook as flask_verify_webhook
from receiver_kit.options import MISSING, SettingsSource
from receiver_kit.wsgi import WebhookMiddleware as WsgiMiddleware

from .conftest import SECRET


def _app(environ: Any, start_response: Any) -> list[bytes]:
    return []


async def _asgi(scope: Any, receive: Any, send: Any) -> None:
    return None


#: Each adapter, built with the given arguments (and a secret where it needs one).
ADAPTERS: dict[str, Callable[..., Any]] = {
    "flask": lambda **kw: flask_verify_webhook(**kw),
    "django": lambda **kw: django_verify_webhook(**kw),
    "wsgi": lambda **kw: WsgiMiddleware(_app, **{"secret": SECRET, **kw}),
    "asgi": lambda **kw: AsgiMiddleware(_asgi, **{"secret": SECRET, **kw}),
    "fastapi": lambda **kw: WebhookVerifier(**{"secret": SECRET, **kw}),
}

BAD_ARGUMENTS = [
    pytest.param({"require_standard": "no"}, "require_standard", id="flag-as-text"),
    pytest.param({"require_standard": 1}, "require_standard", id="flag-as-int"),
    pytest.param({"tolerance": 0}, "tolerance", id="zero-tolerance"),
    pytest.param({"tolerance": "soon"}, "tolerance", id="text-tolerance"),
    pytest.param({"allowlist": ["not a network"]}, "not a network", id="bad-network"),
    pytest.param({"allowlist": []}, "empty", id="empty-allowlist"),
    pytest.param({"trusted_proxies": ["10.0.0.0/33"]}, "10.0.0.0/33", id="bad-proxy"),
    pytest.param({"allowlist": IPAllowlist(), "trusted_proxies": ["10.0.0.1"]},
                 "IPAllowlist itself", id="proxies-beside-an-allowlist"),
    pytest.param({"idempotency": 42}, "idempotency", id="bad-store"),
    pytest.param({"secret": ""}, "empty", id="empty-secret"),
]


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize(("kwargs", "named"), BAD_ARGUMENTS)
def test_every_adapter_refuses_the_same_bad_argument_when_it_is_built(
    adapter: str, kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        ADAPTERS[adapter](**kwargs)


@pytest.mark.parametrize("adapter", ["wsgi", "asgi", "fastapi"])
def test_adapters_without_settings_resolve_their_options_once_with_the_defaults(
    adapter: str,
) -> None:
    built = ADAPTERS[adapter]()
    options = built.options
    assert isinstance(options, ReceiverOptions)
    assert options.secrets == (SECRET.encode(),)
    assert [str(n) for n in options.allowlist.networks] == list(DEFAULT_ALLOWLIST)
    assert options.allowlist.trusted_proxies == ()
    assert isinstance(options.store, MemoryIdempotencyStore)
    assert (options.tolerance, options.require_standard) == (DEFAULT_TOLERANCE, False)


def test_settings_are_resolved_once_and_again_only_when_one_changes() -> None:
    settings: dict[str, Any] = {"RECEIVER_KIT_SECRETS": "s1", "RECEIVER_KIT_TOLERANCE": 60}
    source = SettingsSource(lambda key: settings.get(key, MISSING))
    config = ReceiverConfig(allowlist="*")
    first = config.resolve(source)
    assert first is config.resolve(source)  # nothing changed: the same object
    assert first.tolerance == 60 and first.secrets == (b"s1",)
    settings["RECEIVER_KIT_SECRETS"] = ["s1", "s2"]
    second = config.resolve(source)
    assert second is not first and second.secrets == (b"s1", b"s2")
    assert second.store is first.store  # the default store: one per source


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"RECEIVER_KIT_REQUIRE_STANDARD": "false"}, "RECEIVER_KIT_REQUIRE_STANDARD"),
        ({"RECEIVER_KIT_TOLERANCE": -1}, "RECEIVER_KIT_TOLERANCE"),
        ({"RECEIVER_KIT_ALLOWLIST": 7}, "RECEIVER_KIT_ALLOWLIST"),
        ({"RECEIVER_KIT_TRUSTED_PROXIES": IPAllowlist()}, "RECEIVER_KIT_TRUSTED_PROXIES"),
        ({"RECEIVER_KIT_IDEMPOTENCY": 42}, "RECEIVER_KIT_IDEMPOTENCY"),
        ({"RECEIVER_KIT_SECRETS": None}, "RECEIVER_KIT_SECRETS"),
    ],
)
def test_a_bad_setting_is_named_by_its_setting(settings: dict[str, Any], named: str) -> None:
    values = {"RECEIVER_KIT_SECRETS": SECRET, **settings}
    source = SettingsSource(lambda key: values.get(key, MISSING))
    with pytest.raises(ConfigurationError, match=named):
        ReceiverConfig().resolve(source)


def test_flask_and_django_read_the_same_setting_names() -> None:
    from django.conf import settings as django_settings

    from receiver_kit.django import SETTINGS_SOURCE

    app = Flask(__name__)
    values = {"RECEIVER_KIT_SECRETS": SECRET, "RECEIVER_KIT_ALLOWLIST": "127.0.0.1",
              "RECEIVER_KIT_TOLERANCE": 42, "RECEIVER_KIT_REQUIRE_STANDARD": True}
    app.config.update(values)
    from_flask = ReceiverConfig().resolve(settings_source(app))
    from django.test import override_settings

    from .django_config import configure_django

    configure_django()
    with override_settings(**values):
        from_django = ReceiverConfig().resolve(SETTINGS_SOURCE)
    assert django_settings.configured
    for options in (from_flask, from_django):
        assert options.secrets == (SECRET.encode(),)
        assert [str(n) for n in options.allowlist.networks] == ["127.0.0.1/32"]
        assert (options.tolerance, options.require_standard) == (42, True)


def test_there_is_one_signature_header_constant() -> None:
    assert receiver_kit.SIGNATURE_HEADER == "X-ClawBook-Signature"
    assert receiver_kit.signature.SIGNATURE_HEADER is receiver_kit.headers.SIGNATURE_HEADER
    assert receiver_kit.SIGNATURE_HEADER is receiver_kit.headers.SIGNATURE_HEADER
    assert not hasattr(receiver_kit.standard, "SIGNATURE_HEADER")
    assert receiver_kit.STANDARD_SIGNATURE_HEADER == "webhook-signature"
