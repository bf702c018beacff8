"""Gathering requests into groups (invigil.delivery.gathering), without a
database: who goes together, and that one item's failure stays its own."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import anyio

from invigil.delivery.gathering import Gathering
from invigil.errors import Unavailable

A, B = uuid.uuid4(), uuid.uuid4()


class Writer:
    """Records each group it is given; ``gate`` holds the first trip until set
    (so that the next requests queue behind it); an item "boom" raises."""

    def __init__(self) -> None:
        self.groups: list[tuple[uuid.UUID, list[str]]] = []
        self.gate = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, tenant: uuid.UUID, items: list[str]) -> list[str | None]:
        with self.lock:
            self.groups.append((tenant, list(items)))
            first = len(self.groups) == 1
        if first:
            self.gate.wait(5)
        if "boom" in items:
            raise RuntimeError("boom")
        return [None if i == "general" else f"{i}!" for i in items]


async def _asks(g: Gathering[str, str], asks: list[tuple[uuid.UUID, str]], w: Writer) -> list[Any]:
    """The first ask, then -- while it is being written -- all the others."""
    tasks = [asyncio.create_task(g(*asks[0]))]
    await asyncio.sleep(0.02)
    tasks += [asyncio.create_task(g(tenant, item)) for tenant, item in asks[1:]]
    await asyncio.sleep(0.05)  # every ask has arrived; the first trip waits at the gate
    w.gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


def test_what_arrives_while_a_group_is_written_goes_next_together() -> None:
    w = Writer()
    g: Gathering[str, str] = Gathering(w, anyio.Semaphore(3), most=3, writers=1)
    asks = [(A, "a1"), (A, "a2"), (A, "a3"), (B, "b1"), (A, "general"), (A, "a5"), (B, "b2")]
    answers = asyncio.run(_asks(g, asks, w))
    assert answers == ["a1!", "a2!", "a3!", "b1!", None, "a5!", "b2!"]
    # Each tenant in groups of its own, at most three items each.
    assert sorted(w.groups) == sorted(
        [(A, ["a1"]), (A, ["a2", "a3", "general"]), (A, ["a5"]), (B, ["b1", "b2"])]
    )


def test_a_failing_group_is_written_again_one_by_one() -> None:
    w = Writer()
    g: Gathering[str, str] = Gathering(w, anyio.Semaphore(3), writers=1)
    answers = asyncio.run(_asks(g, [(A, "a1"), (A, "a2"), (A, "boom"), (A, "a4")], w))
    assert answers[:2] == ["a1!", "a2!"] and answers[3] == "a4!"
    assert isinstance(answers[2], RuntimeError)  # its own request's answer, nobody else's
    assert w.groups == [
        (A, ["a1"]),
        (A, ["a2", "boom", "a4"]),  # rolled back ...
        (A, ["a2"]),
        (A, ["boom"]),
        (A, ["a4"]),  # ... and each written again alone
    ]


def test_several_writers_of_a_tenant_share_the_queue() -> None:
    w = Writer()
    g: Gathering[str, str] = Gathering(w, anyio.Semaphore(3), most=2, writers=2)
    answers = asyncio.run(_asks(g, [(A, f"a{n}") for n in range(6)], w))
    assert answers == [f"a{n}!" for n in range(6)]
    assert sorted(len(items) for _, items in w.groups) == [1, 1, 2, 2]


def test_the_queue_bounds_itself() -> None:
    w = Writer()
    full: Gathering[str, str] = Gathering(w, anyio.Semaphore(3), writers=1, most_waiting=2)
    answers = asyncio.run(_asks(full, [(A, "a1"), (A, "a2"), (A, "a3"), (A, "a4")], w))
    # a1 is being written; a2 and a3 wait; a4 finds two waiting.
    assert answers[:3] == ["a1!", "a2!", "a3!"] and isinstance(answers[3], Unavailable)
    assert answers[3].problem()["status"] == 503 and answers[3].headers() == {"Retry-After": "2"}

    w = Writer()
    slow: Gathering[str, str] = Gathering(w, anyio.Semaphore(3), writers=1, wait_seconds=0.01)
    answers = asyncio.run(_asks(slow, [(A, "a1"), (A, "a2")], w))
    assert answers[0] == "a1!" and isinstance(answers[1], Unavailable)  # waited too long
    assert w.groups == [(A, ["a1"])]  # and nothing of it was written


def test_writes_take_the_candidates_lane() -> None:
    w = Writer()
    w.gate.set()
    lane = anyio.Semaphore(1)
    g: Gathering[str, str] = Gathering(w, lane, writers=3)
    inside: list[int] = []
    real = w.__call__

    def counting(tenant: uuid.UUID, items: list[str]) -> list[str | None]:
        inside.append(1 - lane.value)  # trips holding the lane now
        return real(tenant, items)

    g.write = counting

    async def run() -> list[Any]:
        return await asyncio.gather(*(g(t, f"{t}") for t in (A, B, uuid.uuid4())))

    assert len(asyncio.run(run())) == 3
    assert inside == [1, 1, 1]
