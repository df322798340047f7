import pytest

from shared.helix.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpen


@pytest.fixture
def clock():
    return [100.0]


@pytest.fixture
def breaker(clock):
    return CircuitBreaker(threshold=3, cooldown=10, clock=lambda: clock[0])


def test_opens_after_threshold_consecutive_failures(breaker):
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED
    breaker.record_failure()
    assert (breaker.state, breaker.open_for()) == (OPEN, 10)
    with pytest.raises(CircuitOpen) as refused:
        breaker.acquire()
    assert refused.value.retry_after == 10


def test_one_probe_after_the_cooldown(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock[0] += 10
    breaker.acquire()
    assert breaker.state == HALF_OPEN
    with pytest.raises(CircuitOpen):
        breaker.acquire()
    breaker.record_failure()  # the probe failed: open for a whole cooldown again
    assert (breaker.state, breaker.open_for()) == (OPEN, 10)
    clock[0] += 10
    breaker.acquire()
    breaker.record_success()
    assert (breaker.state, breaker.open_for()) == (CLOSED, 0)
    breaker.acquire()


def test_a_probe_that_never_went_out_hands_over_to_the_next_caller(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock[0] += 10
    breaker.acquire()
    breaker.release()
    assert breaker.state == OPEN
    breaker.acquire()
    assert breaker.state == HALF_OPEN
