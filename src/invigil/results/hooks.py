"""What results provides to the layers below it (docs/adr/0019-layers.md).

Installed when the results package is imported (its ``__init__``); the
shell imports every domain at start-up. Delivery tells results that an
attempt was submitted, proctoring that a review outcome was recorded: each
may release a result (:mod:`invigil.results.release`).
"""

from __future__ import annotations

from invigil.delivery import submission
from invigil.jobs import queue
from invigil.proctoring import outcomes
from invigil.results import jobs, release


def install() -> None:
    submission.register("results.release", release.on_submitted)
    outcomes.register("results.release", release.on_review)
    queue.register(jobs.add_tasks)
