"""The six options of a receiver, checked and resolved in one place for every adapter.

``secret`` (setting ``RECEIVER_KIT_SECRETS``)
    The secret, or a list of secrets during a rotation. Required.
``allowlist`` (``RECEIVER_KIT_ALLOWLIST``)
    Networks, or ``"*"``; default ClawBook's 203.0.113.0/24 and 198.51.100.0/24.
``trusted_proxies`` (``RECEIVER_KIT_TRUSTED_PROXIES``)
    Proxies whose ``X-Forwarded-For`` is believed; default none.
``idempotency`` (``RECEIVER_KIT_IDEMPOTENCY``)
    A store, a Redis URL, or ``False``; default a store in memory.
``tolerance`` (``RECEIVER_KIT_TOLERANCE``)
    Seconds ``webhook-timestamp`` may be off, either way; default 300.
``require_standard`` (``RECEIVER_KIT_REQUIRE_STANDARD``)
    ``True`` refuses requests without the Standard Webhooks headers; default ``False``.

Every adapter takes the six arguments and hands them to :class:`ReceiverConfig`, which
checks each one given at once, so a bad argument fails when the app starts (decorating a
view, building a middleware), with the same rule everywhere: ``require_standard="yes"`` is
an error in every adapter, never coerced with ``bool()``. Arguments left out (``None``)
come from the framework's settings where it has some (Flask's ``app.config``, Django's
``settings``), checked with the same rules and named by their setting, else from the
defaults. The result is one :class:`ReceiverOptions`, the checked values the requests are
verified with.

Settings are read on each request but resolved again only when one of them changed (the
same objects mean the same options), so a test may change ``app.config`` between requests,
and the default in-memory store is made once per settings source, shared by its views.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .allowlist import DEFAULT_ALLOWLIST, IPAllowlist, NetworksSpec
from .errors import ConfigurationError
from .headers import Headers
from .idempotency import IdempotencySpec, IdempotencyStore, MemoryIdempotencyStore, make_store
from .signature import Secrets, normalize_secrets
from .standard import DEFAULT_TOLERANCE, check_tolerance
from .verification import check_request

#: The settings read by the Flask and Django adapters.
SECRETS_KEY: Final = "RECEIVER_KIT_SECRETS"
ALLOWLIST_KEY: Final = "RECEIVER_KIT_ALLOWLIST"
TRUSTED_PROXIES_KEY: Final = "RECEIVER_KIT_TRUSTED_PROXIES"
IDEMPOTENCY_KEY: Final = "RECEIVER_KIT_IDEMPOTENCY"
TOLERANCE_KEY: Final = "RECEIVER_KIT_TOLERANCE"
REQUIRE_STANDARD_KEY: Final = "RECEIVER_KIT_REQUIRE_STANDARD"

#: Each setting with the value used when it is not set.
SETTINGS_DEFAULTS: Mapping[str, Any] = {
    SECRETS_KEY: None,
    ALLOWLIST_KEY: DEFAULT_ALLOWLIST,
    TRUSTED_PROXIES_KEY: (),
    IDEMPOTENCY_KEY: None,
    TOLERANCE_KEY: DEFAULT_TOLERANCE,
    REQUIRE_STANDARD_KEY: False,
}


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: What a settings lookup returns for a setting that is not set.
MISSING: Final = _Missing()

#: Reads one setting by name, :data:`MISSING` when it is not set.
Lookup = Callable[[str], object]


def check_flag(value: object, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False``.

    :raises ~receiver_kit.ConfigurationError: naming ``name`` for anything else, including ``1`` and
        ``"false"``, which ``bool()`` would read the wrong way or silently.
    """
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, not {value!r}.")
    return value


@dataclass(frozen=True)
class ReceiverOptions:
    """The checked options requests are verified with; made by :class:`ReceiverConfig`."""

    secrets: tuple[bytes, ...]
    allowlist: IPAllowlist
    #: ``None`` when idempotency is off (``idempotency=False``).
    store: IdempotencyStore | None
    tolerance: float
    require_standard: bool

    def check(self, body: bytes, headers: Headers, remote_addr: str | None) -> dict[str, Any]:
        """:func:`~.verification.check_request` with these options."""
        return check_request(
            body,
            headers,
            remote_addr,
            secrets=self.secrets,
            allowlist=self.allowlist,
            tolerance=self.tolerance,
            require_standard=self.require_standard,
        )


class SettingsSource:
    """Where settings come from (one Flask app's config, Django's ``settings``), and what
    the kit made from them: the default idempotency store, and each view's options.

    :param lookup: reads one setting, :data:`MISSING` when it is not set.
    """

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self._lock = threading.Lock()
        self._stores: list[tuple[object, IdempotencyStore | None]] = []
        self._options: dict[ReceiverConfig, tuple[tuple[object, ...], ReceiverOptions]] = {}

    def store_for(self, spec: object) -> IdempotencyStore | None:
        """The store for the idempotency setting ``spec``, made once per setting object.

        ``MISSING`` and ``None`` give one in-memory store, shared by every view reading
        this source.
        """
        if spec is MISSING:
            spec = None
        with self._lock:
            for known, store in self._stores:
                if known is spec:
                    return store
            store = make_store(_idempotency_spec(spec, IDEMPOTENCY_KEY))
            self._stores.append((spec, store))
            return store

    def cached(self, config: ReceiverConfig, raw: tuple[object, ...]) -> ReceiverOptions | None:
        entry = self._options.get(config)
        if entry is not None and len(entry[0]) == len(raw):
            if all(old is new for old, new in zip(entry[0], raw, strict=True)):
                return entry[1]
        return None

    def remember(
        self, config: ReceiverConfig, raw: tuple[object, ...], options: ReceiverOptions
    ) -> None:
        with self._lock:
            self._options[config] = (raw, options)


def _idempotency_spec(value: object, name: str) -> IdempotencySpec:
    if value is None or value is False or isinstance(value, str | IdempotencyStore):
        return value
    raise ConfigurationError(
        f"{name} must be a store with claim, complete and release, a Redis URL or False, "
        f"not {value!r}."
    )


def _networks(value: object, name: str) -> IPAllowlist | NetworksSpec:
    if isinstance(value, IPAllowlist | str):
        return value
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        return list(value)
    raise ConfigurationError(
        f"{name} must be networks (a list, or one string separated by commas or spaces) "
        f"or '*', not {value!r}."
    )


def _plain_networks(value: object, name: str) -> NetworksSpec:
    networks = _networks(value, name)
    if isinstance(networks, IPAllowlist):
        raise ConfigurationError(f"{name} must be networks, not an IPAllowlist.")
    return networks


class ReceiverConfig:
    """The options one adapter was given, checked at once; the rest come from settings.

    Adapters make one per protected view or middleware; :meth:`resolve` then gives the
    :class:`ReceiverOptions` for a request.

    :param where: what the arguments were passed to, for error messages.
    :raises ~receiver_kit.ConfigurationError: for a bad argument, naming it.
    """

    def __init__(
        self,
        *,
        secret: Secrets | None = None,
        allowlist: IPAllowlist | NetworksSpec | None = None,
        trusted_proxies: NetworksSpec | None = None,
        idempotency: IdempotencySpec = None,
        tolerance: float | None = None,
        require_standard: bool | None = None,
        where: str = "the receiver",
    ) -> None:
        self.where = where
        self.secrets = normalize_secrets(secret) if secret is not None else None
        self.networks: IPAllowlist | NetworksSpec | None = None
        self.trusted_proxies: NetworksSpec | None = None
        if trusted_proxies is not None:
            self.trusted_proxies = _plain_networks(trusted_proxies, "trusted_proxies")
        self.allowlist: IPAllowlist | None = None
        if isinstance(allowlist, IPAllowlist):
            if trusted_proxies is not None:
                raise ConfigurationError(
                    "Pass trusted_proxies to the IPAllowlist itself, not next to it."
                )
            self.allowlist = allowlist
        elif allowlist is not None and self.trusted_proxies is not None:
            self.allowlist = IPAllowlist(
                _plain_networks(allowlist, "allowlist"), trusted_proxies=self.trusted_proxies
            )
        else:  # one half may still come from the settings: check what was given now
            if allowlist is not None:
                self.networks = _plain_networks(allowlist, "allowlist")
                IPAllowlist(self.networks)
            if self.trusted_proxies is not None:
                IPAllowlist(trusted_proxies=self.trusted_proxies)
        self.idempotency_given = idempotency is not None
        self.store = (
            make_store(_idempotency_spec(idempotency, "idempotency"))
            if idempotency is not None
            else None
        )
        self.tolerance = check_tolerance(tolerance) if tolerance is not None else None
        self.require_standard = (
            check_flag(require_standard, "require_standard")
            if require_standard is not None
            else None
        )

    def _unset(self) -> tuple[str, ...]:
        """The settings this config needs, in a fixed order."""
        keys: list[str] = []
        if self.secrets is None:
            keys.append(SECRETS_KEY)
        if self.allowlist is None:
            if self.networks is None:
                keys.append(ALLOWLIST_KEY)
            if self.trusted_proxies is None:
                keys.append(TRUSTED_PROXIES_KEY)
        if not self.idempotency_given:
            keys.append(IDEMPOTENCY_KEY)
        if self.tolerance is None:
            keys.append(TOLERANCE_KEY)
        if self.require_standard is None:
            keys.append(REQUIRE_STANDARD_KEY)
        return tuple(keys)

    def resolve(self, source: SettingsSource | None = None) -> ReceiverOptions:
        """The options for a request: the arguments, then the settings, then the defaults.

        Without a ``source`` (adapters with no settings: WSGI, ASGI, FastAPI) every option
        left out takes its default; such adapters call this once, when they are built.

        :raises ~receiver_kit.ConfigurationError: for a bad or missing setting, naming it.
        """
        keys = self._unset() if source is not None else ()
        raw = tuple(source.lookup(key) for key in keys) if source is not None else ()
        if source is not None:
            cached = source.cached(self, raw)
            if cached is not None:
                return cached
        settings = dict(zip(keys, raw, strict=True))

        def setting(key: str) -> Any:
            value = settings.get(key, MISSING)
            return SETTINGS_DEFAULTS[key] if value is MISSING else value

        secrets = self.secrets
        if secrets is None:
            configured = setting(SECRETS_KEY)
            if configured is None:
                raise ConfigurationError(
                    f"No webhook secret: pass secret=... to {self.where}"
                    + (f" or set {SECRETS_KEY}." if source is not None else ".")
                )
            secrets = normalize_secrets(configured)
        checker = self.allowlist
        if checker is None:
            networks = self.networks
            if networks is None:
                networks = _networks(setting(ALLOWLIST_KEY), ALLOWLIST_KEY)
            if isinstance(networks, IPAllowlist):  # an IPAllowlist object as the setting
                checker = networks
            else:
                proxies = self.trusted_proxies
                if proxies is None:
                    proxies = _plain_networks(setting(TRUSTED_PROXIES_KEY), TRUSTED_PROXIES_KEY)
                checker = IPAllowlist(networks, trusted_proxies=proxies)
        if self.idempotency_given:
            store = self.store
        elif source is not None:
            store = source.store_for(settings.get(IDEMPOTENCY_KEY, MISSING))
        else:
            store = MemoryIdempotencyStore()
        tolerance = self.tolerance
        if tolerance is None:
            tolerance = check_tolerance(setting(TOLERANCE_KEY), TOLERANCE_KEY)
        strict = self.require_standard
        if strict is None:
            strict = check_flag(setting(REQUIRE_STANDARD_KEY), REQUIRE_STANDARD_KEY)
        options = ReceiverOptions(secrets, checker, store, tolerance, strict)
        if source is not None:
            source.remember(self, raw, options)
        return options
