"""Per-key API rate limiting: 429 with Retry-After, per key, documented."""

from __future__ import annotations

import pytest

from .conftest import make_api_client


@pytest.mark.clawhooks_config(CLAWHOOKS_API_RATE_LIMIT=5)
def test_a_key_over_its_limit_gets_429_with_retry_after_and_other_keys_do_not(host):
    acme = make_api_client(host, "acme")
    other_acme_key = make_api_client(host, "acme")
    globex = make_api_client(host, "globex")

    statuses = [acme.get("/webhooks").status_code for _ in range(7)]

    assert statuses == [200] * 5 + [429] * 2
    limited = acme.get("/webhooks")
    assert limited.status_code == 429
    assert limited.json["error"]["code"] == "too_many_requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert acme.key not in limited.get_data(as_text=True)
    assert other_acme_key.get("/webhooks").status_code == 200  # the limit is per key
    assert globex.get("/webhooks").status_code == 200


def test_429_is_in_the_openapi_document(host):
    document = host.app.test_client().get("/api/v1/openapi.json").json
    operation = document["paths"]["/webhooks"]["get"]  # under servers: /api/v1
    assert operation["responses"]["429"] == {"$ref": "#/components/responses/TooManyRequests"}
    assert "Retry-After" in document["components"]["responses"]["TooManyRequests"]["headers"]
