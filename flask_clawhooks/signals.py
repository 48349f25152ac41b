"""Signals sent by flask-clawhooks, with the app as sender.

Connect with ``delivery_failed.connect(fn, app)``. Receivers run in the worker process
(except :data:`event_emitted`, which runs in the request that emitted), after the
outcome is committed.
"""

from __future__ import annotations

from flask.signals import Namespace

_signals = Namespace()

event_emitted = _signals.signal("clawhooks-event-emitted")
"""An event was added to the session: ``event`` (an :class:`~flask_clawhooks.models.Event`)
and ``deliveries`` (how many webhooks it fans out to). Sent before the host commits."""

delivery_succeeded = _signals.signal("clawhooks-delivery-succeeded")
"""A receiver answered 2xx: ``delivery_id``, ``webhook_id``, ``response_code``."""

delivery_failed = _signals.signal("clawhooks-delivery-failed")
"""A delivery ended without success (4xx, 410, or retries exhausted): ``delivery_id``,
``webhook_id``, ``reason``."""

webhook_failed = _signals.signal("clawhooks-webhook-failed")
"""A delivery used its last retry and the webhook is now ``failed``: ``webhook_id``,
``owner``, ``delivery_id``. The owner's failure e-mail is sent alongside."""

webhook_recovered = _signals.signal("clawhooks-webhook-recovered")
"""A ``failed`` webhook delivered successfully again and is ``active``: ``webhook_id``."""

webhook_disabled = _signals.signal("clawhooks-webhook-disabled")
"""``CLAWHOOKS_DISABLE_AFTER_FAILURES`` deliveries in a row failed and the webhook was
switched off: ``webhook_id``, ``owner``, ``delivery_id`` (the last one). The owner is
e-mailed alongside."""
