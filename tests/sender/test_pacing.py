"""A rate-limited webhook's requests go out in their slots, or take new ones: the worker's
timer hands a request to the sending thread in its slot, and a sending thread that was
held up (a busy machine) and comes to several at once sends one and hands the others
back for new slots instead of sending them together (:mod:`flask_clawhooks.throttle`)."""

from __future__ import annotations

import threading
import time

from flask_clawhooks.dispatch import process_dispatcher
from flask_clawhooks.metrics import scrape_registry
from flask_clawhooks.models import DeliveryStatus

from .test_delivery_control_processes import densest_window, start_times


def late_count(host, webhook_id: str) -> float:
    return sum(sample.value for family in scrape_registry(host.app).collect()
               for sample in family.samples
               if sample.name == "clawhooks_deliveries_held_total"
               and sample.labels == {"webhook": webhook_id, "reason": "late"})


def test_requests_a_held_up_sending_thread_comes_to_at_once_take_new_slots(host, receiver):
    limited = host.add_webhook(receiver.url, max_per_second=20)  # slots 50 ms apart
    for n in range(10):  # all within the half second of slots a claim may reserve
        host.emit("message.received", {"n": n})
    late_before = late_count(host, limited.id)
    with host.app.app_context():
        dispatcher = process_dispatcher(host.app)  # the one the worker below uses
    # The sending thread busy (as on a very busy machine) from before the claim until
    # 0.3 s after it: the timer hands it the first slots' requests meanwhile.
    release = threading.Event()
    dispatcher._sender._loop.call_soon_threadsafe(release.wait, 60)

    def release_after_claim() -> None:
        deadline = time.monotonic() + 60
        # All ten claimed (in one claim or more: the worker may take them from its ready
        # list in two goes); none is recorded while the sending thread is held up.
        while dispatcher._unrecorded < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        release.set()

    releaser = threading.Thread(target=release_after_claim)
    releaser.start()
    try:
        host.work()
    finally:
        release.set()
        releaser.join()

    assert [d.status for d in host.deliveries()] == [DeliveryStatus.SUCCESS] * 10
    times = start_times(host, limited.id)
    assert len(times) == 10
    densest = densest_window(times, 0.1)
    # Before the sending thread looked at the webhook's last request, those whose
    # slots passed while it was held up all went out together when it went on (7 at
    # once, 9 in a tenth of a second). Now only two do: the claim's first, whose slot
    # was the claim's moment (handed over with the claim, not by the timer), and the
    # first of the held-up ones; the others take new slots, 50 ms apart (4 in a tenth
    # of a second at most in the runs seen, also beside four CPU hogs).
    assert len(densest) <= 4, [round(t, 3) for t in times]
    # Those handed back are counted as late (5 or 6 in most runs, 3 in a suite run).
    assert late_count(host, limited.id) - late_before >= 3
