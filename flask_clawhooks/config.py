"""Every ``CLAWHOOKS_*`` setting, its default, and the checks run at start-up.

``docs/config.rst`` documents each key; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .destinations import DestinationPolicy
from .encryption import check_keys
from .errors import ConfigurationError
from .redisclient import RedisUrlError, check_url
from .transport import CONNECTIONS_PER_DESTINATION

DEFAULTS: dict[str, Any] = {
    # Where work is queued. The database stays the source of truth.
    "CLAWHOOKS_REDIS_URL": "redis://127.0.0.1:6379/0",
    "CLAWHOOKS_QUEUE": "clawhooks",
    # Seconds any one Redis call made inside a request (or a command) may take; after a
    # failure, requests do without Redis for the cool-down (the sweeper makes up for it).
    "CLAWHOOKS_REDIS_REQUEST_TIMEOUT": 0.5,
    "CLAWHOOKS_REDIS_CIRCUIT_COOLDOWN": 5.0,
    # The seed's retry policy: 1st retry after 1 min, then 5 min, 30 min, 2 h, 12 h.
    "CLAWHOOKS_RETRY_DELAYS": (60, 300, 1800, 7200, 43200),
    # Seconds one attempt may take in all (connect, send, wait, read).
    "CLAWHOOKS_TIMEOUT": 30.0,
    # Seconds a worker holds a claimed delivery before the sweeper may hand it to another.
    # None: twice the timeout plus 30 s (a claimed delivery may wait for a sender, then send).
    "CLAWHOOKS_LEASE_SECONDS": None,
    # How often a running worker sweeps, and how old a due delivery must be to be swept.
    "CLAWHOOKS_SWEEP_INTERVAL": 30.0,
    "CLAWHOOKS_SWEEP_GRACE": 30.0,
    # Seconds an old secret keeps signing (webhook-signature) after a rotation.
    "CLAWHOOKS_SECRET_ROTATION_GRACE": 24 * 3600,
    # The SSRF guard (flask_clawhooks.destinations): True lets deliveries reach loopback
    # and private networks; the allowlist names trusted networks (CIDRs) instead.
    "CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS": False,
    "CLAWHOOKS_DESTINATION_ALLOWLIST": (),
    # Deliveries one worker process has in flight at once (an event loop, not threads:
    # a request waiting on a receiver costs a socket, so slow receivers get many).
    "CLAWHOOKS_CONCURRENCY": 256,
    # Connections one worker process keeps open to one destination (scheme, host, port)
    # at most; requests beyond wait for a free one. As many as the default concurrency:
    # a single slow receiver may use every slot, and a lower cap halves what it gets.
    "CLAWHOOKS_CONNECTIONS_PER_DESTINATION": CONNECTIONS_PER_DESTINATION,
    # On SQLite, switch the database file to write-ahead logging, so the web app and the
    # workers (separate processes writing the same file) do not block each other.
    "CLAWHOOKS_SQLITE_WAL": True,
    # Test sends one web process makes at once for one owner, and in all (never more than
    # CLAWHOOKS_CONCURRENCY); beyond, "Send test" answers 429 at once.
    "CLAWHOOKS_TEST_SEND_LIMIT_PER_OWNER": 2,
    "CLAWHOOKS_TEST_SEND_LIMIT": 16,
    # Bytes of a receiver's answer kept in the attempt log.
    "CLAWHOOKS_RESPONSE_EXCERPT_BYTES": 4096,
    # Where the JSON API is mounted (flask_clawhooks.api).
    "CLAWHOOKS_API_PREFIX": "/api/v1",
    # Requests a minute one API key may make (429 with Retry-After beyond); None: no limit.
    "CLAWHOOKS_API_RATE_LIMIT": 600,
    # Web processes serving the API: while Redis cannot count, each allows this share.
    "CLAWHOOKS_API_RATE_LIMIT_PROCESSES": 1,
    # True: the API refuses webhook URLs that are not https:// (422).
    "CLAWHOOKS_REQUIRE_HTTPS": False,
    "CLAWHOOKS_DASHBOARD_PREFIX": "/settings/api/webhooks",
    # Endpoint the dashboard redirects visitors without an owner to (e.g. "auth.login"),
    # with ``next=<the page>``. None: answer 401 instead.
    "CLAWHOOKS_DASHBOARD_LOGIN_ENDPOINT": None,
    # The health check (flask_clawhooks.health) switches a webhook off after this many
    # failed deliveries in a row (None: never) ...
    "CLAWHOOKS_DISABLE_AFTER_FAILURES": None,
    # ... or once every attempt has failed for this many seconds (None: never), and
    # warns its owner after this many. A success ends the run of failures.
    "CLAWHOOKS_DISABLE_AFTER_FAILING_FOR": 5 * 24 * 3600,
    "CLAWHOOKS_WARN_AFTER_FAILING_FOR": 24 * 3600,
    # Seconds between two health checks, run by one of the workers' sweepers.
    "CLAWHOOKS_HEALTH_CHECK_INTERVAL": 300.0,
    # A URL path such as "/metrics" serves Prometheus metrics from the app (None: off).
    "CLAWHOOKS_METRICS_VIEW": None,
    # At most one "webhook failed" e-mail per webhook in this many seconds.
    "CLAWHOOKS_FAILURE_EMAIL_INTERVAL": 3600,
    # Failure notifications. No e-mail is sent while CLAWHOOKS_MAIL_SERVER is None.
    "CLAWHOOKS_MAIL_SERVER": None,
    "CLAWHOOKS_MAIL_PORT": 25,
    "CLAWHOOKS_MAIL_USE_TLS": False,
    "CLAWHOOKS_MAIL_USE_SSL": False,
    "CLAWHOOKS_MAIL_USERNAME": None,
    "CLAWHOOKS_MAIL_PASSWORD": None,
    "CLAWHOOKS_MAIL_SENDER": "ClawBook Webhooks <webhooks@localhost>",
    # Most deliveries one recovery from the API or the dashboard may re-queue; a larger
    # range is refused (422) and `flask clawhooks recover` does it in batches instead.
    "CLAWHOOKS_RECOVER_LIMIT": 10_000,
    # Most custom headers an owner may add to a webhook's requests.
    "CLAWHOOKS_MAX_CUSTOM_HEADERS": 10,
    # Seconds an emit(..., idempotency_key=...) key is remembered.
    "CLAWHOOKS_IDEMPOTENCY_WINDOW": 24 * 3600,
    # Fernet keys encrypting webhook secrets at rest: the first encrypts, any decrypts.
    # None: stored unencrypted (development only; start-up says so).
    "CLAWHOOKS_ENCRYPTION_KEYS": None,
    # emit() checks data against the event type's JSON Schema: "off", "warn" (log what
    # does not match, send anyway) or "strict" (raise InvalidEventData, send nothing).
    # None: "warn" when the app runs in debug mode, else "off".
    "CLAWHOOKS_VALIDATE_PAYLOADS": None,
    # Workers delete events (with their deliveries and attempts) older than this, an age
    # such as "30d" or seconds (None: keep everything; `flask clawhooks prune` by hand).
    "CLAWHOOKS_RETENTION": None,
    # ... and set event bodies and response excerpts older than this to NULL, keeping
    # the rows (None: keep them as long as the rows).
    "CLAWHOOKS_PAYLOAD_RETENTION": None,
    # Seconds between two of those prunes, run by one of the workers' sweepers, and the
    # share of its time a prune (periodic or ``flask clawhooks prune``) spends working:
    # it rests the remainder after each batch, leaving the machine to deliveries.
    "CLAWHOOKS_PRUNE_INTERVAL": 3600.0,
    "CLAWHOOKS_PRUNE_SHARE": 0.25,
}

#: The values ``CLAWHOOKS_VALIDATE_PAYLOADS`` allows.
VALIDATE_PAYLOADS_MODES = ("off", "warn", "strict")


@dataclass(frozen=True)
class Settings:
    """The validated settings of one app, read once by ``init_app``."""

    redis_url: str
    queue: str
    redis_request_timeout: float
    redis_circuit_cooldown: float
    retry_delays: tuple[float, ...]
    timeout: float
    lease_seconds: float
    sweep_interval: float
    sweep_grace: float
    secret_rotation_grace: float
    destinations: DestinationPolicy
    concurrency: int
    sqlite_wal: bool
    test_send_limit_per_owner: int
    test_send_limit: int
    response_excerpt_bytes: int
    api_prefix: str
    api_rate_limit: int | None
    require_https: bool
    dashboard_prefix: str
    dashboard_login_endpoint: str | None
    disable_after_failures: int | None
    disable_after_failing_for: float | None
    warn_after_failing_for: float | None
    health_check_interval: float
    metrics_view: str | None
    failure_email_interval: float
    mail_server: str | None
    mail_port: int
    mail_use_tls: bool
    mail_use_ssl: bool
    mail_username: str | None
    mail_password: str | None
    mail_sender: str
    recover_limit: int = 10_000
    max_custom_headers: int = 10
    idempotency_window: float = 24 * 3600.0
    connections_per_destination: int = CONNECTIONS_PER_DESTINATION
    api_rate_limit_processes: int = 1
    #: Never in a repr: settings may be logged.
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    #: ``off``, ``warn`` or ``strict``, the default already resolved.
    validate_payloads: str = "off"
    retention: float | None = None
    payload_retention: float | None = None
    prune_interval: float = 3600.0
    prune_share: float = 0.25

    @property
    def max_attempts(self) -> int:
        """The first try plus one per retry delay (6 with the seed's schedule)."""
        return len(self.retry_delays) + 1


def _number(config: Mapping[str, Any], key: str, *, minimum: float, integer: bool = False) -> Any:
    value = config[key]
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        what = "an integer" if integer else "a number"
        raise ConfigurationError(f"{key} must be {what} >= {minimum}, got {value!r}.")
    return value


def _share(config: Mapping[str, Any], key: str) -> float:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigurationError(
            f"{key} must be a number above 0 and at most 1 (0.25: work a quarter of the "
            f"time, 1: never rest), got {value!r}.")
    return float(value)


def _flag(config: Mapping[str, Any], key: str) -> bool:
    value = config[key]
    if not isinstance(value, bool):
        raise ConfigurationError(f"{key} must be True or False, got {value!r}.")
    return value


def _prefix(config: Mapping[str, Any], key: str) -> str:
    value = config[key]
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigurationError(f"{key} must be a URL path starting with '/', got {value!r}.")
    return value.rstrip("/")


def _optional_seconds(config: Mapping[str, Any], key: str) -> float | None:
    if config[key] is None:
        return None
    return float(_number(config, key, minimum=0))


def _age(config: Mapping[str, Any], key: str) -> float | None:
    """An age as ``30d``, ``12h`` (:func:`~flask_clawhooks.durations.parse_age`) or seconds."""
    from .durations import parse_age

    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            seconds = parse_age(value).total_seconds()
        except ValueError:
            try:
                seconds = float(value)
            except ValueError:
                seconds = -1.0
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        seconds = -1.0
    if seconds < 1:
        raise ConfigurationError(
            f"{key} must be None or an age of a second or more, such as '30d', '12h' or "
            f"seconds, got {value!r}.")
    return seconds


def _optional_str(config: Mapping[str, Any], key: str) -> str | None:
    value = config[key]
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{key} must be a string or None, got {value!r}.")
    return value


def _endpoint(config: Mapping[str, Any], key: str) -> str | None:
    value = config[key]
    if value is not None and (not isinstance(value, str) or not value or "/" in value):
        raise ConfigurationError(
            f"{key} must be None or an endpoint name such as 'auth.login' (not a URL), "
            f"got {value!r}."
        )
    return value


def _validate_payloads(config: Mapping[str, Any]) -> str:
    value = config["CLAWHOOKS_VALIDATE_PAYLOADS"]
    if value is None:
        return "warn" if config.get("DEBUG") else "off"
    if isinstance(value, str) and value.strip().lower() in VALIDATE_PAYLOADS_MODES:
        return value.strip().lower()
    raise ConfigurationError(
        "CLAWHOOKS_VALIDATE_PAYLOADS must be 'off', 'warn', 'strict' or None (warn in "
        f"debug mode, else off), got {value!r}."
    )


def _destinations(config: Mapping[str, Any]) -> DestinationPolicy:
    allow = _flag(config, "CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS")
    networks = config["CLAWHOOKS_DESTINATION_ALLOWLIST"]
    if isinstance(networks, str):
        networks = [n for n in networks.replace(" ", "").split(",") if n]
    try:
        return DestinationPolicy.from_settings(allow, networks)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            "CLAWHOOKS_DESTINATION_ALLOWLIST must be a list of networks such as "
            f"['10.1.0.0/16'], got {networks!r} ({exc})."
        ) from None


def load_settings(config: Mapping[str, Any]) -> Settings:
    """Check the ``CLAWHOOKS_*`` keys of ``config`` and return them as :class:`Settings`.

    :raises ~flask_clawhooks.ConfigurationError: naming the key and what it allows.
    """
    delays = config["CLAWHOOKS_RETRY_DELAYS"]
    if isinstance(delays, str):
        # from_prefixed_env() hands over "[60, 300]" as a list already; accept "60,300" too.
        delays = [part for part in delays.replace(" ", "").split(",") if part]
    try:
        retry_delays = tuple(float(d) for d in delays)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"CLAWHOOKS_RETRY_DELAYS must be a list of seconds, got {delays!r}."
        ) from None
    if any(d < 0 for d in retry_delays):
        raise ConfigurationError("CLAWHOOKS_RETRY_DELAYS must not hold negative delays.")

    redis_url = config["CLAWHOOKS_REDIS_URL"]
    if not isinstance(redis_url, str) or "://" not in redis_url:
        raise ConfigurationError(
            "CLAWHOOKS_REDIS_URL must be a URL such as redis://127.0.0.1:6379/0 or "
            f"redis+sentinel://127.0.0.1:26379/mymaster/0, got {redis_url!r}."
        )
    try:
        check_url(redis_url)
    except RedisUrlError as exc:
        raise ConfigurationError(f"CLAWHOOKS_REDIS_URL is not usable: {exc}.") from None
    queue = config["CLAWHOOKS_QUEUE"]
    if not isinstance(queue, str) or not queue:
        raise ConfigurationError(f"CLAWHOOKS_QUEUE must be a non-empty string, got {queue!r}.")

    timeout = float(_number(config, "CLAWHOOKS_TIMEOUT", minimum=0.1))
    lease = config["CLAWHOOKS_LEASE_SECONDS"]
    lease_seconds = 2 * timeout + 30 if lease is None else float(
        _number(config, "CLAWHOOKS_LEASE_SECONDS", minimum=timeout)
    )
    concurrency = _number(config, "CLAWHOOKS_CONCURRENCY", minimum=1, integer=True)
    return Settings(
        redis_url=redis_url,
        queue=queue,
        redis_request_timeout=float(
            _number(config, "CLAWHOOKS_REDIS_REQUEST_TIMEOUT", minimum=0.01)
        ),
        redis_circuit_cooldown=float(
            _number(config, "CLAWHOOKS_REDIS_CIRCUIT_COOLDOWN", minimum=0)
        ),
        retry_delays=retry_delays,
        timeout=timeout,
        lease_seconds=lease_seconds,
        sweep_interval=float(_number(config, "CLAWHOOKS_SWEEP_INTERVAL", minimum=0.1)),
        sweep_grace=float(_number(config, "CLAWHOOKS_SWEEP_GRACE", minimum=0)),
        destinations=_destinations(config),
        secret_rotation_grace=float(
            _number(config, "CLAWHOOKS_SECRET_ROTATION_GRACE", minimum=0)
        ),
        concurrency=concurrency,
        sqlite_wal=_flag(config, "CLAWHOOKS_SQLITE_WAL"),
        test_send_limit_per_owner=_number(
            config, "CLAWHOOKS_TEST_SEND_LIMIT_PER_OWNER", minimum=1, integer=True
        ),
        test_send_limit=min(concurrency, _number(config, "CLAWHOOKS_TEST_SEND_LIMIT",
                                                 minimum=1, integer=True)),
        response_excerpt_bytes=_number(
            config, "CLAWHOOKS_RESPONSE_EXCERPT_BYTES", minimum=0, integer=True
        ),
        api_prefix=_prefix(config, "CLAWHOOKS_API_PREFIX"),
        api_rate_limit=(
            None if config["CLAWHOOKS_API_RATE_LIMIT"] is None
            else _number(config, "CLAWHOOKS_API_RATE_LIMIT", minimum=1, integer=True)
        ),
        require_https=_flag(config, "CLAWHOOKS_REQUIRE_HTTPS"),
        dashboard_prefix=_prefix(config, "CLAWHOOKS_DASHBOARD_PREFIX"),
        dashboard_login_endpoint=_endpoint(config, "CLAWHOOKS_DASHBOARD_LOGIN_ENDPOINT"),
        disable_after_failures=(
            None if config["CLAWHOOKS_DISABLE_AFTER_FAILURES"] is None
            else _number(config, "CLAWHOOKS_DISABLE_AFTER_FAILURES", minimum=1, integer=True)
        ),
        disable_after_failing_for=_optional_seconds(
            config, "CLAWHOOKS_DISABLE_AFTER_FAILING_FOR"),
        warn_after_failing_for=_optional_seconds(config, "CLAWHOOKS_WARN_AFTER_FAILING_FOR"),
        health_check_interval=float(
            _number(config, "CLAWHOOKS_HEALTH_CHECK_INTERVAL", minimum=0.1)),
        metrics_view=(None if config["CLAWHOOKS_METRICS_VIEW"] is None
                      else _prefix(config, "CLAWHOOKS_METRICS_VIEW") or "/"),
        failure_email_interval=float(
            _number(config, "CLAWHOOKS_FAILURE_EMAIL_INTERVAL", minimum=0)
        ),
        mail_server=_optional_str(config, "CLAWHOOKS_MAIL_SERVER"),
        mail_port=_number(config, "CLAWHOOKS_MAIL_PORT", minimum=1, integer=True),
        mail_use_tls=_flag(config, "CLAWHOOKS_MAIL_USE_TLS"),
        mail_use_ssl=_flag(config, "CLAWHOOKS_MAIL_USE_SSL"),
        mail_username=_optional_str(config, "CLAWHOOKS_MAIL_USERNAME"),
        mail_password=_optional_str(config, "CLAWHOOKS_MAIL_PASSWORD"),
        mail_sender=str(config["CLAWHOOKS_MAIL_SENDER"]),
        recover_limit=_number(config, "CLAWHOOKS_RECOVER_LIMIT", minimum=1, integer=True),
        max_custom_headers=_number(config, "CLAWHOOKS_MAX_CUSTOM_HEADERS", minimum=0,
                                   integer=True),
        idempotency_window=float(_number(config, "CLAWHOOKS_IDEMPOTENCY_WINDOW", minimum=1)),
        connections_per_destination=_number(
            config, "CLAWHOOKS_CONNECTIONS_PER_DESTINATION", minimum=1, integer=True),
        api_rate_limit_processes=_number(
            config, "CLAWHOOKS_API_RATE_LIMIT_PROCESSES", minimum=1, integer=True),
        encryption_keys=check_keys(config["CLAWHOOKS_ENCRYPTION_KEYS"]),
        validate_payloads=_validate_payloads(config),
        retention=_age(config, "CLAWHOOKS_RETENTION"),
        payload_retention=_age(config, "CLAWHOOKS_PAYLOAD_RETENTION"),
        prune_interval=float(_number(config, "CLAWHOOKS_PRUNE_INTERVAL", minimum=1)),
        prune_share=_share(config, "CLAWHOOKS_PRUNE_SHARE"),
    )
