"""Grade a webhook receiver: send it what a real sender and an attacker would, and report.

::

    python -m receiver_kit.check https://example.com/webhook --secret whsec_... \\
        [--header-style clawbook|standard|both] [--probe URL]

The checker sends, one after the other with a short pause as a real sender would leave
(``--pause``, default 0.5 s), requests shaped exactly like ClawBook's (a ``webhook.test``
event, compact JSON, signed with the secret you give):

``valid delivery``
    A correctly signed event: expects a 2xx.
``same delivery again``
    The same event again, signed afresh as a sender's retry is: expects a 2xx, and that
    the handler did not run a second time. The checker can only tell that from outside
    with help: ``--probe URL``, a URL answering ``GET`` with how many times the handler has
    run (a JSON number, or an object with ``"count"``), or the receiver answering the
    duplicate with the header ``Webhook-Duplicate: true`` (as every ``receiver_kit``
    adapter does). With neither it is graded *not applicable: not verifiable*.
``forged signature``, ``body changed after signing``, ``missing signature``
    Expect a 4xx.
``stale timestamp``, ``future timestamp``
    Correctly signed, with a ``webhook-timestamp`` an hour in the past or the future:
    expect a 4xx. Not applicable with ``--header-style clawbook``: ``X-ClawBook-Signature``
    covers no time, which is why a receiver that checks only it cannot refuse a replay.
``replayed id, different body``
    The first event's id again, on a different body with a fresh, valid signature:
    expects a 4xx, or a 2xx that did not run the handler (known as above); a handler that
    runs is a fail. (Only the sender can sign, and it never reuses an id for other
    content; receivers that dedupe on the id, as the Standard Webhooks specification
    asks, answer it as a duplicate.)
``oversized body``
    A body of ``--oversize`` bytes (default 4 MiB) from someone without the secret:
    expects a 4xx (or the connection closed early), never a 2xx, a 5xx or a hang.
``non-JSON body``
    A correctly signed body that is not JSON: expects a 4xx.

Requests that expect a 4xx prove nothing when the valid delivery was not accepted; they
are then graded not applicable. The report has one line per check, ``PASS``, ``FAIL`` or
``N/A`` with the reason, and a summary; the exit status is 1 when any check failed, else
0 (2 for a usage error).

This module needs the standard library only (``http.client``), like the kit's core, and
never imports the sender. ``flask clawhooks check-receiver`` runs it with a webhook's own
URL and secret.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import secrets as random
import ssl
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from .headers import DUPLICATE_HEADER, SIGNATURE_HEADER, STANDARD_SIGNATURE_HEADER
from .signature import sign
from .standard import sign_standard

__all__ = [
    "DUPLICATE_HEADER",
    "Checker",
    "Grade",
    "HeaderStyle",
    "Result",
    "format_report",
    "main",
]

HeaderStyle = Literal["clawbook", "standard", "both"]
Grade = Literal["PASS", "FAIL", "N/A"]

#: Seconds the stale and future timestamps are off by: far beyond the five minutes the
#: Standard Webhooks libraries allow by default.
SKEW: Final = 3600

#: Default size of the oversized body: above Django's 2.5 MB default and any event ClawBook
#: sends.
DEFAULT_OVERSIZE: Final = 4 * 1024 * 1024

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


@dataclass(frozen=True)
class Result:
    """The grade of one check, and why."""

    name: str
    grade: Grade
    detail: str


@dataclass
class Reply:
    """What the receiver answered to one request: a status, or why there was none."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def describe(self) -> str:
        return str(self.status) if self.status is not None else f"no answer ({self.error})"

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


#: Called with the address a request connected to, before anything is sent; raises any
#: exception to refuse it (the sender's SSRF policy, for example), and nothing is sent.
AddressGuard = Callable[[str], None]


class Refused(OSError):
    """The guard refused the address a request connected to."""


class ProbeError(Exception):
    """The ``--probe`` URL did not answer with a count."""


def _event_id() -> str:
    return "evt_" + "".join(random.choice(_ALPHABET) for _ in range(26))


def _now_text(now: float) -> str:
    return datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Checker:
    """Runs the checks against one receiver; :meth:`run` returns their results.

    :param url: the receiver's ``http://`` or ``https://`` URL.
    :param secret: the webhook's secret, exactly as the sender shows it.
    :param header_style: which signature headers to send: ``clawbook``
        (``X-ClawBook-Signature``), ``standard`` (``webhook-*``), or ``both``, as ClawBook
        does.
    :param probe: a URL answering ``GET`` with the number of times the handler ran.
    :param pause: seconds between two requests.
    :param timeout: seconds one request may take.
    :param oversize: bytes of the oversized body.
    :param guard: checks each connected address before a byte is sent.
    :param extra_headers: sent on every delivery, before the signature headers (the
        custom headers a webhook adds, such as ``Authorization``).
    :param clock: the current Unix time, for the timestamps.
    :param sleep: waits between requests.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        header_style: HeaderStyle = "both",
        probe: str | None = None,
        pause: float = 0.5,
        timeout: float = 10.0,
        oversize: int = DEFAULT_OVERSIZE,
        guard: AddressGuard | None = None,
        extra_headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if header_style not in ("clawbook", "standard", "both"):
            raise ValueError(f"header_style must be clawbook, standard or both, not "
                             f"{header_style!r}.")
        for name, value in (("url", url), ("probe", probe)):
            if value is not None and urlsplit(value).scheme not in ("http", "https"):
                raise ValueError(f"{name} must be an http:// or https:// URL, not {value!r}.")
        if not secret:
            raise ValueError("secret must not be empty: give the webhook's secret.")
        self.url = url
        self.secret = secret
        self.style: HeaderStyle = header_style
        self.probe = probe
        self.pause = pause
        self.timeout = timeout
        self.oversize = oversize
        self.guard = guard
        self.extra_headers = dict(extra_headers or {})
        self.clock = clock
        self.sleep = sleep
        self._sent = 0
        #: The probe's readings so far, and why it stopped being usable.
        self._readings: list[int] = []
        self._probe_problem: str | None = None

    # -- requests -----------------------------------------------------------------------

    def _connect(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        """A connection to ``url``'s host, checked by the guard, and the request target.

        :raises Refused: when the guard refuses the address.
        """
        parts = urlsplit(url)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname or "", parts.port,
                                               timeout=self.timeout,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                              timeout=self.timeout)
        conn.connect()
        if self.guard is not None and conn.sock is not None:
            try:
                self.guard(str(conn.sock.getpeername()[0]))
            except Exception as exc:
                conn.close()
                raise Refused(str(exc)) from None
        return conn, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _request(self, method: str, url: str, body: bytes | None,
                 headers: dict[str, str]) -> Reply:
        """One request on a fresh connection; a connection the receiver closes while the
        body is being sent still gets its answer read when there is one."""
        if self._sent and self.pause > 0:
            self.sleep(self.pause)
        self._sent += 1
        conn: http.client.HTTPConnection | None = None
        try:
            conn, target = self._connect(url)
            try:
                conn.putrequest(method, target)
                for name, value in headers.items():
                    conn.putheader(name, value)
                if body is not None:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders()
                if body:
                    conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the receiver stopped reading: its answer may still be there
            response = conn.getresponse()
            response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()})
        except (OSError, http.client.HTTPException) as exc:
            return Reply(error=f"{type(exc).__name__}: {exc}" if str(exc)
                         else type(exc).__name__)
        finally:
            if conn is not None:
                conn.close()

    def _post(self, body: bytes, headers: dict[str, str]) -> Reply:
        return self._request("POST", self.url, body, {
            **self.extra_headers,
            "Content-Type": "application/json",
            "User-Agent": "receiver_kit.check",
            **headers,
        })

    def count(self) -> int:
        """The probe's count.

        :raises ProbeError: when it does not answer ``200`` with a count.
        """
        assert self.probe is not None
        conn: http.client.HTTPConnection | None = None
        try:
            conn, target = self._connect(self.probe)
            conn.request("GET", target)
            response = conn.getresponse()
            text = response.read(65536)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            raise ProbeError(f"the probe did not answer ({exc})") from None
        finally:
            if conn is not None:
                conn.close()
        if status != 200:
            raise ProbeError(f"the probe answered {status}")
        try:
            value: Any = json.loads(text)
        except ValueError:
            raise ProbeError("the probe's answer is not JSON") from None
        if isinstance(value, dict):
            value = value.get("count")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProbeError('the probe must answer a number or {"count": <number>}')
        return value

    # -- what is sent -------------------------------------------------------------------

    def _body(self, event_id: str, note: str = "") -> bytes:
        envelope = {
            "id": event_id,
            "type": "webhook.test",
            "created_at": _now_text(self.clock()),
            "data": {"webhook_id": "wh_receiver_kit_check",
                     "message": "A conformance check by receiver_kit.check; safe to ignore."
                                + note},
        }
        return json.dumps(envelope, separators=(",", ":")).encode("utf-8")

    def _signed(self, body: bytes, event_id: str, *, secret: str | None = None,
                timestamp: int | None = None) -> dict[str, str]:
        """The headers of the configured style for ``body``, signed with ``secret``."""
        key = self.secret if secret is None else secret
        headers = {"X-ClawBook-Event": "webhook.test"}
        if self.style in ("clawbook", "both"):
            headers[SIGNATURE_HEADER] = sign(body, key)
        if self.style in ("standard", "both"):
            when = int(self.clock()) if timestamp is None else timestamp
            headers.update(sign_standard(body, key, message_id=event_id, timestamp=when))
        return headers

    # -- the checks ---------------------------------------------------------------------

    def run(self) -> list[Result]:
        """Send every request and grade the answers, in the order of the module docs."""
        results: list[Result] = []
        self._readings, self._probe_problem = [], None
        self._read_probe()

        first_id = _event_id()
        first = self._body(first_id)
        reply = self._post(first, self._signed(first, first_id))
        accepted = reply.ok
        results.append(Result("valid delivery", "PASS" if accepted else "FAIL",
                              reply.describe() + ("" if accepted else
                                                  "; a correctly signed event must get a 2xx")))
        self._read_probe()
        if len(self._readings) == 2 and self._readings[0] == self._readings[1]:
            self._probe_problem = "the probe did not change after the valid delivery"

        reply = self._post(first, self._signed(first, first_id))
        results.append(self._grade_duplicate("same delivery again", reply, accepted,
                                             expect_ok=True))

        wrong = "whsec_" + base64.b64encode(random.token_bytes(24)).decode("ascii")

        def forged() -> Reply:
            event_id = _event_id()
            body = self._body(event_id)
            return self._post(body, self._signed(body, event_id, secret=wrong))

        results.append(self._expect_refused("forged signature", accepted, forged))

        def changed() -> Reply:
            event_id = _event_id()
            body = self._body(event_id)
            headers = self._signed(body, event_id)
            return self._post(body.replace(b"safe to ignore", b"SAFE TO IGNORE"), headers)

        results.append(self._expect_refused("body changed after signing", accepted, changed))

        def unsigned() -> Reply:
            event_id = _event_id()
            body = self._body(event_id)
            headers = self._signed(body, event_id)
            headers.pop(SIGNATURE_HEADER, None)
            headers.pop(STANDARD_SIGNATURE_HEADER, None)
            return self._post(body, headers)

        results.append(self._expect_refused("missing signature", accepted, unsigned))

        for name, skew in (("stale timestamp", -SKEW), ("future timestamp", SKEW)):
            if self.style == "clawbook":
                results.append(Result(name, "N/A", "X-ClawBook-Signature covers no time; "
                                      "use --header-style standard or both"))
                continue

            def skewed(skew: int = skew) -> Reply:
                event_id = _event_id()
                body = self._body(event_id)
                when = int(self.clock()) + skew
                return self._post(body, self._signed(body, event_id, timestamp=when))

            results.append(self._expect_refused(name, accepted, skewed))

        other = self._body(first_id, " (a different body)")
        reply = self._post(other, self._signed(other, first_id))
        results.append(self._grade_duplicate("replayed id, different body", reply, accepted,
                                             expect_ok=False))

        def oversized() -> Reply:
            event_id = _event_id()
            padding = max(0, self.oversize - len(self._body(event_id, " ")))
            body = self._body(event_id, " " + "x" * padding)
            return self._post(body, self._signed(body, event_id, secret=wrong))

        result = self._expect_refused("oversized body", accepted, oversized,
                                      closing_is_refusal=True)
        results.append(Result(result.name, result.grade,
                              f"{result.detail} ({self.oversize} bytes, not signed with the "
                              "secret)"))

        def not_json() -> Reply:
            body = b"this is not JSON"
            return self._post(body, self._signed(body, _event_id()))

        results.append(self._expect_refused("non-JSON body", accepted, not_json))
        return results

    def _read_probe(self) -> int | None:
        """Read the probe and remember the reading; ``None`` once it failed."""
        if self.probe is None or self._probe_problem is not None:
            return None
        try:
            count = self.count()
        except ProbeError as exc:
            self._probe_problem = str(exc)
            return None
        self._readings.append(count)
        return count

    def _grade_duplicate(self, name: str, reply: Reply, accepted: bool, *,
                         expect_ok: bool) -> Result:
        """A request for an event id already received: the handler must not run again."""
        if not accepted:
            return Result(name, "N/A", "the valid delivery was not accepted")
        status = reply.describe()
        if reply.status is None or reply.status >= 500 or 300 <= reply.status < 400:
            return Result(name, "FAIL", f"{status}; expected "
                          + ("a 2xx" if expect_ok else "a 4xx, or a 2xx without running "
                             "the handler"))
        if not reply.ok:
            if expect_ok:
                return Result(name, "FAIL", f"{status}; a retry of a delivery already "
                              "received must get a 2xx, or the sender records a failure")
            return Result(name, "PASS", f"{status}; refused")
        last = self._readings[-1] if self._readings else None
        now = self._read_probe() if last is not None else None
        if last is not None and now is not None:
            trail = " -> ".join(str(count) for count in self._readings)
            if now != last:
                return Result(name, "FAIL", f"{status}; the handler ran again (probe "
                              f"{trail})")
            return Result(name, "PASS", f"{status}; the handler did not run again (probe "
                          f"{trail})")
        if reply.headers.get(DUPLICATE_HEADER.lower(), "").strip().lower() == "true":
            return Result(name, "PASS", f"{status}; the receiver answered "
                          f"{DUPLICATE_HEADER}: true")
        why = (self._probe_problem if self.probe is not None and self._probe_problem else
               f"give --probe URL, or answer duplicates with {DUPLICATE_HEADER}: true")
        return Result(name, "N/A", f"{status}; not verifiable: {why}")

    def _expect_refused(self, name: str, accepted: bool, send: Callable[[], Reply], *,
                        closing_is_refusal: bool = False) -> Result:
        """Send, and expect a 4xx."""
        if not accepted:
            return Result(name, "N/A", "the valid delivery was not accepted, so a refusal "
                          "proves nothing")
        reply = send()
        if reply.status is not None and 400 <= reply.status < 500:
            return Result(name, "PASS", reply.describe())
        if reply.status is None and closing_is_refusal:
            return Result(name, "PASS", f"the receiver closed the connection ({reply.error})")
        if reply.ok:
            why = "accepted; it must be refused with a 4xx"
        elif reply.status is not None and reply.status >= 500:
            why = "a 5xx makes the sender retry; refuse with a 4xx"
        else:
            why = "expected a 4xx"
        return Result(name, "FAIL", f"{reply.describe()}; {why}")


def format_report(url: str, style: str, results: Sequence[Result]) -> str:
    """The report as printed: a heading, one line per check, a summary."""
    width = max(len(result.name) for result in results)
    lines = [f"Checking {url} (headers: {style})"]
    lines += [f"{result.grade:<4}  {result.name:<{width}}  {result.detail}"
              for result in results]
    counts = {grade: sum(1 for r in results if r.grade == grade)
              for grade in ("PASS", "FAIL", "N/A")}
    lines.append(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['N/A']} not "
                 "applicable")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m receiver_kit.check",
        description="Send a webhook receiver valid, duplicate, forged, stale, replayed, "
                    "oversized and malformed deliveries and grade its answers. Exits 1 "
                    "when a check fails.")
    parser.add_argument("url", help="the receiver's URL")
    parser.add_argument("--secret", required=True,
                        help="the webhook's secret, exactly as ClawBook shows it")
    parser.add_argument("--header-style", choices=("clawbook", "standard", "both"),
                        default="both",
                        help="signature headers to send (default: both, as ClawBook does)")
    parser.add_argument("--probe", metavar="URL",
                        help="a URL answering GET with how many times the handler ran")
    parser.add_argument("--pause", type=float, default=0.5, metavar="SECONDS",
                        help="pause between requests (default: 0.5)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="seconds one request may take (default: 10)")
    parser.add_argument("--oversize", type=int, default=DEFAULT_OVERSIZE, metavar="BYTES",
                        help=f"size of the oversized body (default: {DEFAULT_OVERSIZE})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks from the command line; the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        checker = Checker(args.url, args.secret, header_style=args.header_style,
                          probe=args.probe, pause=args.pause, timeout=args.timeout,
                          oversize=args.oversize)
    except ValueError as exc:
        parser.error(str(exc))
    results = checker.run()
    print(format_report(args.url, args.header_style, results))
    return 1 if any(result.grade == "FAIL" for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
