"""What the LTI domain installs when imported (the shell imports every
domain): its jobs, and the gradebook post at each result release."""

from __future__ import annotations

from invigil.jobs import queue
from invigil.lti import ags, jobs
from invigil.results import release

queue.register(jobs.add_tasks)
release.on_release(ags.on_release)
