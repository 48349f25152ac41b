"""Fixtures of the API tests: API keys of two owners, a test client that sends them, and
the host app served over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from flask_clawhooks.apikeys import create_key

from ..fixtures import Host, serve_in_thread

PREFIX = "/api/v1"


@dataclass
class ApiClient:
    """The host's Flask test client, speaking as the owner of ``key``."""

    host: Host
    owner: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def call(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        client = self.host.app.test_client()
        return client.open(PREFIX + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("DELETE", path, **kwargs)

    def create_webhook(self, url: str, events: list[str] | None = None,
                       **fields: Any) -> dict[str, Any]:
        response = self.post("/webhooks", json={
            "url": url, "events": events or ["message.received"], **fields})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json  # type: ignore[return-value]


def make_api_client(host: Host, owner: str) -> ApiClient:
    with host.app.app_context():
        key, token = create_key(host.db.session, owner, name="tests")
        host.db.session.commit()
        return ApiClient(host, owner, token, key.id)


@pytest.fixture
def acme(host: Host) -> ApiClient:
    """Owner ``acme``'s API client (the owner ``Host.add_webhook`` and ``emit`` default to)."""
    return make_api_client(host, "acme")


@pytest.fixture
def globex(host: Host) -> ApiClient:
    """Another owner, who must never see or touch acme's things."""
    return make_api_client(host, "globex")


@pytest.fixture
def live_server(host: Host) -> Iterator[str]:
    """The host app on a real HTTP server at 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, host.app, threaded=True)
    thread = serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
