"""The dashboard's Send test says so when the owner's test sends are at their limit."""

from __future__ import annotations

import html

from flask_clawhooks.state import get_state

from .conftest import csrf_token_of


def test_send_test_over_the_owners_limit_shows_a_message_and_sends_nothing(dashboard,
                                                                            receiver):
    host = dashboard.host
    webhook = host.add_webhook(receiver.url)
    state = get_state(host.app)
    client = dashboard.client("acme")
    page = dashboard.url(f"/{webhook.id}")
    token = csrf_token_of(client.get(page).get_data(as_text=True))

    with state.test_sends.slot("acme"), state.test_sends.slot("acme"):  # two in flight
        response = client.post(dashboard.url(f"/{webhook.id}/test"),
                               data={"csrf_token": token}, follow_redirects=True)

    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Not sent: 2 test send(s) of this owner are still waiting" in text
    assert "Try again in" in text
    assert receiver.requests == [] and host.deliveries() == []

    response = client.post(dashboard.url(f"/{webhook.id}/test"),
                           data={"csrf_token": token}, follow_redirects=True)
    assert "Test event delivered" in response.get_data(as_text=True)
    assert len(receiver.requests) == 1
