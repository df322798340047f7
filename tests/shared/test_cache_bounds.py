"""The in-process cache is bounded in entries and bytes, and expired entries do not stay."""

from shared.cache import SWEEP_EVERY_S, MemoryCache
from tests.waiting import Clock


def test_bounded_in_bytes_least_recently_used_first():
    cache = MemoryCache(max_entries=1000, max_bytes=10_000)
    for number in range(20):
        cache.set(f"k{number}", b"x" * 1000, 60)
    assert cache.bytes <= 10_000
    assert cache.get("k19") == b"x" * 1000 and cache.get("k0") is None
    cache.set("huge", b"x" * 20_000, 60)  # larger than the whole cache: not kept, nothing evicted for it
    assert cache.get("huge") is None and cache.get("k19") is not None


def test_bounded_in_entries():
    cache = MemoryCache(max_entries=3)
    for number in range(10):
        cache.set(str(number), b"v", 60)
    assert len(cache) == 3 and cache.get("9") == b"v"


def test_expired_entries_are_dropped_even_if_never_read_again():
    clock = Clock(1000.0)
    cache = MemoryCache(clock=clock)
    for number in range(100):
        cache.set(f"short{number}", b"x" * 100, 1)
    clock.now += SWEEP_EVERY_S
    cache.set("fresh", b"y", 60)
    assert len(cache) == 1 and cache.bytes < 200
    assert cache.get("fresh") == b"y"


def test_replacing_a_value_counts_its_bytes_once():
    cache = MemoryCache()
    cache.set("k", b"x" * 1000, 60)
    before = cache.bytes
    cache.set("k", b"x" * 1000, 60)
    assert cache.bytes == before
    cache.delete("k")
    assert cache.bytes == 0
