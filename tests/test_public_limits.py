"""The public routes' rate limit: GCRA per client address, bounded memory,
on a controlled clock."""

from __future__ import annotations

import pytest

from invigil.web.public_limits import RateLimiter, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_request_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(60, 3, 100, clock=clock)  # 1 a second, 3 at once
    assert [limiter.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.hit("a")
    assert wait == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.hit("a") == pytest.approx(0.5)  # refused requests do not count
    clock.now += 0.5
    assert limiter.hit("a") == 0.0
    assert limiter.hit("a") == pytest.approx(1.0)
    assert limiter.hit("b") == 0.0  # another address has its own bucket
    clock.now += 60
    assert [limiter.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst is back


def test_memory_is_bounded_least_recently_seen_first() -> None:
    clock = Clock()
    limiter = RateLimiter(60, 1, 100, clock=clock)
    for i in range(1000):
        limiter.hit(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100
    assert limiter.hit("10.0.3.231") > 0  # the most recent are still remembered
    assert limiter.hit("10.0.0.0") == 0.0  # the oldest was forgotten


def test_ipv6_clients_share_their_64_and_mapped_ipv4_is_ipv4() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown"
    assert client_key("testclient") == "testclient"


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 1, 1)
