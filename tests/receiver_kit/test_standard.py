"""Standard Webhooks headers: the reference library both ways, replay tolerance, rotation."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError
from werkzeug.datastructures import Headers
from werkzeug.test import Client

import receiver_kit as rk
from flask_clawhooks.signing import standard_key as sender_standard_key

from .conftest import SECRET, Receiver, event_body, signed_headers

MakeReceiver = Callable[..., Receiver]

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the specification's example secret
NOW = 1_769_783_400  # 2026-01-30T14:30:00Z


def as_whsec(secret: str) -> str:
    """What a Standard Webhooks library needs for a user-chosen secret."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def reference_headers(secret: str, body: bytes, msg_id: str, timestamp: int) -> dict[str, str]:
    signature = StandardWebhook(secret).sign(
        msg_id, dt.datetime.fromtimestamp(timestamp, tz=dt.UTC), body.decode("utf-8"))
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature}


def error_code(response: Any) -> str:
    return str(response.get_json()["error"]["code"])


# -- the reference library, both ways ---------------------------------------------------


@pytest.mark.parametrize(("ours", "theirs"), [(WHSEC, WHSEC), (SECRET, as_whsec(SECRET))],
                         ids=["whsec-secret", "user-chosen-secret"])
def test_the_reference_librarys_signature_verifies_with_receiver_kit(ours: str,
                                                                    theirs: str) -> None:
    body = event_body("evt_ref1", content="Grüße 👋")
    headers = reference_headers(theirs, body, "evt_ref1", NOW)
    assert rk.verify_standard(body, headers, ours, now=NOW) is True
    assert rk.check_standard(body, headers, ours, now=NOW + 10) == "evt_ref1"
    assert rk.verify_standard(body, headers, "another-secret", now=NOW) is False


@pytest.mark.parametrize(("ours", "theirs"), [(WHSEC, WHSEC), (SECRET, as_whsec(SECRET))],
                         ids=["whsec-secret", "user-chosen-secret"])
def test_receiver_kit_signatures_verify_with_the_reference_library(ours: str,
                                                                  theirs: str) -> None:
    body = event_body("evt_ref2", content="Grüße 👋")
    headers = rk.sign_standard(body, ours, message_id="evt_ref2")
    assert StandardWebhook(theirs).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(as_whsec("another-secret")).verify(body, headers)


def test_a_rotation_signature_carries_one_entry_per_secret_and_each_verifies() -> None:
    body = event_body("evt_rot")
    old, new = "whsec_" + base64.b64encode(b"o" * 24).decode(), WHSEC
    headers = rk.sign_standard(body, [old, new], message_id="evt_rot")
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert StandardWebhook(secret).verify(body, headers)["id"] == "evt_rot"
        assert rk.verify_standard(body, headers, secret)
    assert rk.verify_standard(body, headers, [as_whsec("x"), new])
    assert not rk.verify_standard(body, headers, as_whsec("x"))


def test_the_specifications_published_vector_verifies_and_signs_the_same() -> None:
    # The example of the Standard Webhooks specification (and of every library of it).
    body = b'{"test": 2432232314}'
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    assert rk.check_standard(body, headers, WHSEC, now=1614265330) == headers["webhook-id"]
    assert rk.sign_standard(body, WHSEC, message_id=headers["webhook-id"],
                            timestamp=1614265330) == headers
    assert not rk.verify_standard(body, headers, WHSEC, now=1614265330 + 301)
    assert not rk.verify_standard(body.replace(b"2", b"3"), headers, WHSEC, now=1614265330)


# -- key derivation: exactly the sender's ---------------------------------------------


@given(st.one_of(
    st.text(min_size=1),
    st.text(min_size=1).map(lambda s: "whsec_" + s),
    st.binary(min_size=1).map(lambda b: "whsec_" + base64.b64encode(b).decode()),
    st.binary(min_size=1).map(lambda b: "whsec_" + base64.b64encode(b).decode().rstrip("=")),
))
def test_the_key_is_derived_exactly_as_the_sender_derives_it(secret: str) -> None:
    assert rk.standard_key(secret) == sender_standard_key(secret)
    assert rk.standard_key(secret.encode("utf-8")) == sender_standard_key(secret)


def test_key_derivation_examples() -> None:
    assert rk.standard_key("your-webhook-secret") == b"your-webhook-secret"
    assert rk.standard_key("whsec_" + base64.b64encode(b"key").decode()) == b"key"
    assert rk.standard_key("whsec_a2V5") == b"key"  # unpadded
    assert rk.standard_key("whsec_") == b"whsec_"  # nothing to decode: the text itself
    assert rk.standard_key("whsec_!!!") == b"whsec_!!!"
    assert rk.standard_key(b"\xff\xfe") == b"\xff\xfe"  # bytes that are not text: as given


# -- timestamps -------------------------------------------------------------------------


def test_a_timestamp_exactly_at_the_tolerance_passes_and_one_second_more_is_stale() -> None:
    body = event_body("evt_t")
    headers = rk.sign_standard(body, SECRET, message_id="evt_t", timestamp=NOW)
    for now in (NOW - 300, NOW + 300, NOW + 299.5):
        assert rk.verify_standard(body, headers, SECRET, now=now)
    for now in (NOW + 301, NOW - 301, NOW + 300.001):
        assert not rk.verify_standard(body, headers, SECRET, now=now)
        with pytest.raises(rk.StaleTimestamp) as raised:
            rk.check_standard(body, headers, SECRET, now=now)
        assert raised.value.code == 401 and raised.value.error_code == "stale_timestamp"
    assert rk.verify_standard(body, headers, SECRET, now=NOW + 3000, tolerance=3600)
    assert not rk.verify_standard(body, headers, SECRET, now=NOW + 2, tolerance=1)


def test_the_default_now_is_the_clock() -> None:
    body = event_body("evt_clock")
    assert rk.verify_standard(body, rk.sign_standard(body, SECRET, message_id="evt_clock"),
                              SECRET)
    old = rk.sign_standard(body, SECRET, message_id="evt_clock",
                           timestamp=int(time.time()) - 301)
    assert not rk.verify_standard(body, old, SECRET)


def test_a_forged_timestamp_with_the_original_signature_is_an_invalid_signature() -> None:
    body = event_body("evt_forge")
    headers = rk.sign_standard(body, SECRET, message_id="evt_forge", timestamp=NOW - 3600)
    forged = {**headers, "webhook-timestamp": str(NOW)}
    assert not rk.verify_standard(body, forged, SECRET, now=NOW)
    with pytest.raises(rk.InvalidSignature) as raised:
        rk.check_standard(body, forged, SECRET, now=NOW)
    assert raised.value.error_code == "invalid_signature"  # not "stale": it is a forgery


@pytest.mark.parametrize("change", [
    pytest.param({"webhook-id": "evt_other"}, id="other-id"),
    pytest.param({"webhook-timestamp": f"{NOW}.0"}, id="fractional-timestamp"),
    pytest.param({"webhook-timestamp": f" {NOW}"}, id="spaced-timestamp"),
    pytest.param({"webhook-timestamp": f"+{NOW}"}, id="signed-timestamp"),
    pytest.param({"webhook-timestamp": ""}, id="empty-timestamp"),
    pytest.param({"webhook-id": ""}, id="empty-id"),
    pytest.param({"webhook-signature": ""}, id="empty-signature"),
    pytest.param({"webhook-signature": "v1,"}, id="v1-nothing"),
    pytest.param({"webhook-signature": "v1,!!notbase64!!"}, id="v1-junk"),
    pytest.param({"webhook-signature": "v1a,AAAA"}, id="other-version-only"),
])
def test_malformed_standard_headers_are_rejected(change: dict[str, str]) -> None:
    body = event_body("evt_m")
    headers = {**rk.sign_standard(body, SECRET, message_id="evt_m", timestamp=NOW), **change}
    assert not rk.verify_standard(body, headers, SECRET, now=NOW)


def test_other_versions_and_junk_entries_are_skipped_next_to_a_valid_v1() -> None:
    body = event_body("evt_v")
    headers = rk.sign_standard(body, SECRET, message_id="evt_v", timestamp=NOW)
    valid = headers["webhook-signature"]
    tail = valid.split(",", 1)[1]
    headers["webhook-signature"] = f"v2,{tail} v1,%%% v1a,{tail}  {valid} v1,AAAA"
    assert rk.verify_standard(body, headers, SECRET, now=NOW)
    headers["webhook-signature"] = f"v2,{tail} v1a,{tail}"  # the right bytes, wrong version
    assert not rk.verify_standard(body, headers, SECRET, now=NOW)


def test_a_tampered_body_and_a_header_sent_twice_are_rejected() -> None:
    body = event_body("evt_x")
    headers = rk.sign_standard(body, SECRET, message_id="evt_x", timestamp=NOW)
    assert not rk.verify_standard(body + b" ", headers, SECRET, now=NOW)
    twice = Headers(headers)
    twice.add("webhook-signature", headers["webhook-signature"])
    assert not rk.verify_standard(body, twice, SECRET, now=NOW)
    assert rk.verify_standard(body, Headers(headers), SECRET, now=NOW)
    pairs = [(k.upper(), v) for k, v in headers.items()]  # names match in any case
    assert rk.verify_standard(body, pairs, SECRET, now=NOW)


def test_bad_tolerance_and_secrets_are_configuration_errors() -> None:
    body = event_body("evt_c")
    headers = rk.sign_standard(body, SECRET, message_id="evt_c", timestamp=NOW)
    for bad in (0, -1, float("inf"), float("nan"), True, "soon", None):
        with pytest.raises(rk.ConfigurationError, match="tolerance"):
            rk.verify_standard(body, headers, SECRET, tolerance=bad, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(rk.ConfigurationError):
        rk.verify_standard(body, headers, "", now=NOW)
    with pytest.raises(TypeError):
        rk.verify_standard(body.decode(), headers, SECRET, now=NOW)  # type: ignore[arg-type]


# -- check_request, the decorator and the middleware --------------------------------------


def test_check_request_prefers_the_standard_headers_over_the_seed_signature() -> None:
    body = event_body("evt_pref")
    seed = signed_headers(body)
    stale = rk.sign_standard(body, SECRET, message_id="evt_pref",
                             timestamp=int(time.time()) - 3600)
    # A replay carries a valid X-ClawBook-Signature; the stale standard headers still win.
    with pytest.raises(rk.StaleTimestamp):
        rk.check_request(body, {**seed, **stale}, "203.0.113.7", secrets=SECRET)
    # Only two of the three: the seed's header decides.
    partial = {k: v for k, v in stale.items() if k != "webhook-id"}
    assert rk.check_request(body, {**seed, **partial}, "203.0.113.7",
                            secrets=SECRET)["id"] == "evt_pref"
    # A standard signature alone is enough, and the old secret of a rotation works there.
    fresh = rk.sign_standard(body, ["old-secret", SECRET], message_id="evt_pref")
    assert rk.check_request(body, fresh, "203.0.113.7", secrets="old-secret")["id"] == "evt_pref"


def test_require_standard_refuses_the_seed_signature_alone() -> None:
    body = event_body("evt_req")
    with pytest.raises(rk.InvalidSignature, match="Standard Webhooks"):
        rk.check_request(body, signed_headers(body), "203.0.113.7", secrets=SECRET,
                         require_standard=True)
    headers = rk.sign_standard(body, SECRET, message_id="evt_req")
    assert rk.check_request(body, headers, "203.0.113.7", secrets=SECRET,
                            require_standard=True)["id"] == "evt_req"


def test_the_decorator_answers_a_replay_401_stale_timestamp_and_the_view_never_runs(
    make_receiver: MakeReceiver,
) -> None:
    receiver = make_receiver(secret=SECRET)
    body = event_body("evt_dec")
    replay = rk.sign_standard(body, SECRET, message_id="evt_dec",
                              timestamp=int(time.time()) - 301)
    response = receiver.post(body, {**signed_headers(body), **replay})
    assert response.status_code == 401 and error_code(response) == "stale_timestamp"
    forged = {**replay, "webhook-timestamp": str(int(time.time()))}
    response = receiver.post(body, {**signed_headers(body), **forged})
    assert response.status_code == 401 and error_code(response) == "invalid_signature"
    assert receiver.handled == []
    fresh = rk.sign_standard(body, SECRET, message_id="evt_dec")
    assert receiver.post(body, fresh).status_code == 200
    assert [e["id"] for e in receiver.handled] == ["evt_dec"]


def test_tolerance_and_require_standard_come_from_the_config(
    make_receiver: MakeReceiver,
) -> None:
    receiver = make_receiver(config={"RECEIVER_KIT_SECRETS": SECRET,
                                     "RECEIVER_KIT_TOLERANCE": 3600})
    body = event_body("evt_cfg")
    old = rk.sign_standard(body, SECRET, message_id="evt_cfg", timestamp=int(time.time()) - 600)
    assert receiver.post(body, old).status_code == 200
    receiver.app.config["RECEIVER_KIT_TOLERANCE"] = "60"  # as read from the environment
    body2 = event_body("evt_cfg2")
    old2 = rk.sign_standard(body2, SECRET, message_id="evt_cfg2",
                            timestamp=int(time.time()) - 600)
    assert error_code(receiver.post(body2, old2)) == "stale_timestamp"

    assert receiver.post(event_body("evt_seed")).status_code == 200
    receiver.app.config["RECEIVER_KIT_REQUIRE_STANDARD"] = True
    response = receiver.post(event_body("evt_seed2"))
    assert response.status_code == 401 and error_code(response) == "invalid_signature"
    assert [e["id"] for e in receiver.handled] == ["evt_cfg", "evt_seed"]


def test_decorator_arguments_win_over_the_config_and_bad_values_fail(
    make_receiver: MakeReceiver,
) -> None:
    receiver = make_receiver(secret=SECRET, tolerance=3600, require_standard=True,
                             config={"RECEIVER_KIT_TOLERANCE": 1,
                                     "RECEIVER_KIT_REQUIRE_STANDARD": False})
    body = event_body("evt_arg")
    old = rk.sign_standard(body, SECRET, message_id="evt_arg", timestamp=int(time.time()) - 600)
    assert receiver.post(body, old).status_code == 200
    assert receiver.post(event_body("evt_arg2")).status_code == 401

    with pytest.raises(rk.ConfigurationError, match="tolerance"):
        rk.verify_webhook(secret=SECRET, tolerance=0)
    with pytest.raises(rk.ConfigurationError, match="require_standard"):
        rk.verify_webhook(secret=SECRET, require_standard="yes")  # type: ignore[arg-type]
    broken = make_receiver(secret=SECRET, config={"RECEIVER_KIT_TOLERANCE": "five minutes"},
                           testing=False)
    broken.app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(rk.ConfigurationError, match="RECEIVER_KIT_TOLERANCE"):
        broken.post(event_body("evt_b"))


def test_the_middleware_checks_standard_headers_and_can_require_them() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"OK"]

    client = Client(rk.WebhookMiddleware(app, secret=SECRET, tolerance=60))
    strict = Client(rk.WebhookMiddleware(app, secret=SECRET, require_standard=True))
    env = {"REMOTE_ADDR": "203.0.113.7"}
    body = event_body("evt_mw")
    old = rk.sign_standard(body, SECRET, message_id="evt_mw", timestamp=int(time.time()) - 120)
    response = client.post("/webhook", data=body, headers=old, environ_base=env)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "stale_timestamp"
    fresh = rk.sign_standard(body, SECRET, message_id="evt_mw")
    assert client.post("/webhook", data=body, headers=fresh, environ_base=env).status_code == 200
    assert strict.post("/webhook", data=body, headers=signed_headers(body),
                       environ_base=env).status_code == 401
    assert strict.post("/webhook", data=body, headers=fresh, environ_base=env).status_code == 200
    with pytest.raises(rk.ConfigurationError):
        rk.WebhookMiddleware(app, secret=SECRET, tolerance=-5)
