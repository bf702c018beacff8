"""The player never sends a batch of answers the server would refuse as too
large (1 MiB, ``invigil.limits``): it cuts the queue at 768 KiB of JSON and
200 items, keeping the order, and always sends at least one item."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from invigil.app import CANDIDATE_BATCH

CUT = """async ([count, letters]) => {
  const { batchOf } = await import("/static/player/sync.js");
  let queue = Array.from({ length: count }, (_, i) =>
    ({ index: i, response: "é".repeat(letters), seq: i + 1, time_ms: 1000 }));
  const batches = [];
  while (queue.length) {
    const batch = batchOf(queue);
    batches.push({
      seqs: batch.map((i) => i.seq),
      bytes: new TextEncoder().encode(JSON.stringify({ items: batch })).length,
    });
    queue = queue.slice(batch.length);
  }
  return batches;
}"""


def cut(page: Page, count: int, letters: int) -> list[dict[str, Any]]:
    batches: list[dict[str, Any]] = page.evaluate(CUT, [count, letters])
    return batches


def test_a_queue_of_long_essays_goes_in_batches_the_server_takes(
    page: Page, live_server: str
) -> None:
    page.goto(f"{live_server}/signin")  # any page of the site: the module is its own
    batches = cut(page, 20, 60_000)  # twenty essays of the longest kind, 120 kB each
    assert len(batches) > 1
    assert [s for b in batches for s in b["seqs"]] == list(range(1, 21))
    assert all(b["bytes"] <= 768 * 1024 < CANDIDATE_BATCH for b in batches)

    small = cut(page, 450, 1)  # many short answers: at most 200 a request
    assert [len(b["seqs"]) for b in small] == [200, 200, 50]

    alone = cut(page, 1, 500_000)  # larger than a batch (the server rejects it as an item)
    assert [b["seqs"] for b in alone] == [[1]]
