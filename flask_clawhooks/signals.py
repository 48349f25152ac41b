"""Signals sent by flask-clawhooks, with the app as sender.

Connect with ``delivery_failed.connect(fn, app)``. Receivers run in the worker process
(except :data:`event_emitted`, which runs in the request that emitted), after the
outcome is committed; :data:`webhook_failing` and :data:`webhook_disabled` run wherever
the health check runs (a worker's sweeper thread, or ``flask clawhooks check-health``).
"""

from __future__ import annotations

from blinker import Namespace  # what flask.signals re-exports

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

webhook_failing = _signals.signal("clawhooks-webhook-failing")
"""Every attempt has failed for ``CLAWHOOKS_WARN_AFTER_FAILING_FOR``: ``webhook_id``,
``owner``, ``failing_since`` (naive UTC). Sent once per run of failures by the health
check (:mod:`flask_clawhooks.health`); the owner is warned by e-mail alongside."""

webhook_disabled = _signals.signal("clawhooks-webhook-disabled")
"""The health check switched a failing webhook off (``CLAWHOOKS_DISABLE_AFTER_FAILING_FOR``
or ``CLAWHOOKS_DISABLE_AFTER_FAILURES``): ``webhook_id``, ``owner``, ``reason``. The
owner is e-mailed alongside."""
