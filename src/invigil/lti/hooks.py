"""What the LTI domain installs when imported (the shell imports every
domain): its jobs, the gradebook post at each result release, and the
platform's assessment that the player frames while Invigil proctors it."""

from __future__ import annotations

from invigil.delivery import player
from invigil.jobs import queue
from invigil.lti import ags, jobs, proctoring_services
from invigil.results import release

queue.register(jobs.add_tasks)
release.on_release(ags.on_release)
player.delivered_elsewhere(proctoring_services.platform_origin)
