"""Per-key API rate limiting: 429 with Retry-After, per key, documented."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flask_clawhooks.models import Base

from ..fixtures import Host, make_host
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


@pytest.fixture
def host_without_redis(database_url: str, tmp_path: Any) -> Iterator[Host]:
    """A host whose Redis URL points at a port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = make_host(database_url, f"redis://127.0.0.1:{port}/0", str(tmp_path / "instance"),
                     CLAWHOOKS_API_RATE_LIMIT=12, CLAWHOOKS_API_RATE_LIMIT_PROCESSES=3,
                     CLAWHOOKS_REDIS_REQUEST_TIMEOUT=0.2)
    yield host
    with host.app.app_context():
        Base.metadata.drop_all(host.db.engine)
        host.db.engine.dispose()


def test_with_redis_down_each_process_counts_its_share_and_says_so(host_without_redis,
                                                                  caplog):
    caplog.set_level("WARNING", logger="flask_clawhooks")
    acme = make_api_client(host_without_redis, "acme")
    while time.time() % 60 > 55:  # all eight within one minute's window
        time.sleep(0.5)

    statuses = [acme.get("/webhooks").status_code for _ in range(8)]

    # 12 a minute over 3 processes: this one allows 4 a minute per key.
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}
    said = [r.getMessage() for r in caplog.records
            if r.getMessage().startswith("API rate limit counted in this process")]
    assert len(said) == 1
