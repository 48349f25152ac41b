"""Hypothesis against receiver_kit's parsing of hostile requests: whatever the headers,
body and peer address, check_request either returns the event or raises one of the kit's
HTTP errors (401/403/400) — never anything else, and never accepts a forgery. The test
prints what it tried."""

from __future__ import annotations

import collections
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import receiver_kit as rk
from receiver_kit.errors import WebhookRejected

SECRET = "your-webhook-secret"
GOOD_BODY = json.dumps({"id": "evt_1", "type": "message.received", "created_at": "x",
                        "data": {}}, separators=(",", ":")).encode()

ALLOWLIST = rk.IPAllowlist(["203.0.113.0/24", "::/0"], trusted_proxies=["10.0.0.0/8"])

header_text = st.one_of(
    st.none(), st.text(max_size=120), st.just(rk.sign(GOOD_BODY, SECRET)),
    st.from_regex(r"(sha256|sha1|v1)[=,][0-9a-zA-Z+/=]{0,70}", fullmatch=True),
)
bodies = st.one_of(st.just(GOOD_BODY), st.binary(max_size=300),
                   st.text(max_size=200).map(str.encode))
addresses = st.one_of(st.none(), st.text(max_size=50), st.ip_addresses().map(str),
                      st.just("203.0.113.9"), st.just("10.1.2.3"))


def test_hostile_requests_never_crash_the_checks_and_forgeries_never_pass():
    tried: collections.Counter[str] = collections.Counter()

    @settings(max_examples=1500, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(body=bodies, signature=header_text, webhook_id=header_text,
           timestamp=header_text, standard_signature=header_text, peer=addresses,
           forwarded=header_text)
    def check(body, signature, webhook_id, timestamp, standard_signature, peer, forwarded):
        headers = {name: value for name, value in {
            "X-ClawBook-Signature": signature, "webhook-id": webhook_id,
            "webhook-timestamp": timestamp, "webhook-signature": standard_signature,
            "X-Forwarded-For": forwarded}.items() if value is not None}
        try:
            event = rk.check_request(body, headers, peer, secrets=SECRET, allowlist=ALLOWLIST)
        except WebhookRejected as exc:
            tried[f"{exc.code} {exc.error_code}"] += 1
            return
        # Accepted: only possible with a genuine signature of this very body.
        assert rk.verify_signature(body, signature, SECRET) or rk.verify_standard(
            body, headers, SECRET)
        assert isinstance(event, dict)
        tried["accepted"] += 1

    check()
    total = sum(tried.values())
    print(f"\nhypothesis on receiver_kit.check_request: {total} requests; "
          + ", ".join(f"{outcome} x{n}" for outcome, n in sorted(tried.items())))
    assert total >= 1000
