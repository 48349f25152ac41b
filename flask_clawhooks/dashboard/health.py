"""The health card of a webhook's page: figures and a bar chart of the last 24 hours.

The chart is plain SVG drawn on the server (``templates/clawhooks/_health.html``), one
bar per hour, green for successful attempts stacked on red for failed ones, each with a
``<title>`` the browser shows on hover: no JavaScript and nothing to load.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..models import Webhook
from ..state import get_state
from ..stats import CHART_HOURS, WebhookStats, webhook_stats

#: The chart's drawing area, in SVG units: it is stretched to the card's width and
#: drawn this many pixels high.
WIDTH, HEIGHT = 480, 96
GAP = 3


@dataclass
class Bar:
    x: float
    width: float
    success_y: float
    success_height: float
    failure_y: float
    failure_height: float
    label: str


def bars(stats: WebhookStats) -> list[Bar]:
    """One bar per hour, scaled so the busiest hour fills the height."""
    tallest = max([h.successes + h.failures for h in stats.hours] + [1])
    step = WIDTH / CHART_HOURS
    drawn = []
    for n, hour in enumerate(stats.hours):
        failed = HEIGHT * hour.failures / tallest
        succeeded = HEIGHT * hour.successes / tallest
        drawn.append(Bar(
            x=round(n * step + GAP / 2, 2), width=round(step - GAP, 2),
            failure_y=round(HEIGHT - failed, 2), failure_height=round(failed, 2),
            success_y=round(HEIGHT - failed - succeeded, 2),
            success_height=round(succeeded, 2),
            label=(f"{hour.start:%H:%M}–{hour.start + dt.timedelta(hours=1):%H:%M} UTC: "
                   f"{hour.successes} succeeded, {hour.failures} failed"),
        ))
    return drawn


def webhook_health(webhook: Webhook) -> dict[str, Any]:
    """What ``_health.html`` shows for ``webhook``."""
    stats = webhook_stats(get_state().db.session, webhook.id)
    return {"stats": stats, "bars": bars(stats), "width": WIDTH, "height": HEIGHT}


def context() -> dict[str, Any]:
    return {"webhook_health": webhook_health}
