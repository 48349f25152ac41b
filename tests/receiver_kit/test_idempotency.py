"""Idempotency stores: the in-memory one and the Redis one share one behaviour."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
import redis

from receiver_kit import (
    Claim,
    ConfigurationError,
    EventInProgress,
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    claim_event,
)

StoreFactory = Callable[..., IdempotencyStore]


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> StoreFactory:
    if request.param == "memory":
        return MemoryIdempotencyStore
    conn: redis.Redis = request.getfixturevalue("redis_conn")
    return lambda **kwargs: RedisIdempotencyStore(conn, **kwargs)


def test_stores_implement_the_interface(redis_conn: redis.Redis) -> None:
    assert isinstance(MemoryIdempotencyStore(), IdempotencyStore)
    assert isinstance(RedisIdempotencyStore(redis_conn), IdempotencyStore)


def test_claim_complete_then_duplicate(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.claim("evt_1") is Claim.CLAIMED
    assert store.claim("evt_1") is Claim.IN_PROGRESS
    store.complete("evt_1")
    assert store.claim("evt_1") is Claim.DONE
    store.release("evt_1")  # a late release never undoes a completion
    assert store.claim("evt_1") is Claim.DONE
    assert store.claim("evt_2") is Claim.CLAIMED


def test_released_claim_can_be_claimed_again(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.claim("evt_1") is Claim.CLAIMED
    store.release("evt_1")
    assert store.claim("evt_1") is Claim.CLAIMED


def test_abandoned_claim_expires_after_processing_ttl(make_store: StoreFactory) -> None:
    store = make_store(processing_ttl=0.2, ttl=60)
    assert store.claim("evt_1") is Claim.CLAIMED
    assert store.claim("evt_1") is Claim.IN_PROGRESS
    time.sleep(0.35)
    assert store.claim("evt_1") is Claim.CLAIMED


def test_done_record_expires_after_ttl(make_store: StoreFactory) -> None:
    store = make_store(processing_ttl=60, ttl=0.2)
    store.claim("evt_1")
    store.complete("evt_1")
    assert store.claim("evt_1") is Claim.DONE
    time.sleep(0.35)
    assert store.claim("evt_1") is Claim.CLAIMED


def test_concurrent_claims_of_one_id_have_exactly_one_winner(make_store: StoreFactory) -> None:
    store = make_store()
    barrier = threading.Barrier(16)
    results: list[Claim] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        result = store.claim("evt_race")
        with lock:
            results.append(result)

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(Claim.CLAIMED) == 1
    assert results.count(Claim.IN_PROGRESS) == 15


def test_memory_store_is_bounded_and_drops_the_oldest_first() -> None:
    store = MemoryIdempotencyStore(max_entries=3)
    for event_id in ("evt_1", "evt_2", "evt_3", "evt_4"):
        store.claim(event_id)
        store.complete(event_id)
    assert len(store) == 3
    assert store.claim("evt_4") is Claim.DONE
    assert store.claim("evt_2") is Claim.DONE
    assert store.claim("evt_1") is Claim.CLAIMED  # forgotten to make room


@pytest.mark.parametrize("kwargs", [{"max_entries": 0}, {"ttl": 0}, {"processing_ttl": -1}])
def test_memory_store_rejects_bad_limits(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        MemoryIdempotencyStore(**kwargs)  # type: ignore[arg-type]


def test_redis_store_uses_prefixed_keys_with_expiry(redis_conn: redis.Redis) -> None:
    store = RedisIdempotencyStore(redis_conn, prefix="hooks:", ttl=3600, processing_ttl=30)
    store.claim("evt_1")
    assert redis_conn.get("hooks:evt_1") == b"processing"
    assert 0 < redis_conn.pttl("hooks:evt_1") <= 30_000
    store.complete("evt_1")
    assert redis_conn.get("hooks:evt_1") == b"done"
    assert 30_000 < redis_conn.pttl("hooks:evt_1") <= 3_600_000
    store.release("evt_1")
    assert redis_conn.exists("hooks:evt_1")


def test_redis_store_from_url_and_with_decoded_responses(redis_url: str,
                                                          redis_conn: redis.Redis) -> None:
    by_url = RedisIdempotencyStore(redis_url)
    decoded = RedisIdempotencyStore(redis.Redis.from_url(redis_url, decode_responses=True))
    assert by_url.claim("evt_1") is Claim.CLAIMED
    assert decoded.claim("evt_1") is Claim.IN_PROGRESS
    by_url.complete("evt_1")
    assert decoded.claim("evt_1") is Claim.DONE
    decoded.client.close()
    by_url.client.close()


def test_claim_event_completes_only_when_told(make_store: StoreFactory) -> None:
    store = make_store()
    with pytest.raises(RuntimeError), claim_event(store, "evt_1") as claim:
        assert not claim.duplicate
        raise RuntimeError("handler failed")
    with claim_event(store, "evt_1") as claim:  # released, so it runs again
        assert not claim.duplicate
        claim.complete()
    with claim_event(store, "evt_1") as claim:
        assert claim.duplicate


def test_claim_event_while_in_progress_raises_a_retryable_503(make_store: StoreFactory) -> None:
    store = make_store()
    store.claim("evt_1")
    with pytest.raises(EventInProgress) as info, claim_event(store, "evt_1"):
        pass
    answer = info.value.answer
    assert answer.status == 503
    assert dict(answer.headers)["Retry-After"] == "60"
    assert json.loads(answer.body)["error"]["code"] == "event_in_progress"
    assert store.claim("evt_1") is Claim.IN_PROGRESS  # the other holder keeps its claim


def test_retry_after_follows_the_stores_processing_ttl(make_store: StoreFactory) -> None:
    store = make_store(processing_ttl=4.2)
    store.claim("evt_1")
    with pytest.raises(EventInProgress) as info, claim_event(store, "evt_1"):
        pass
    assert info.value.headers == (("Retry-After", "5"),)
