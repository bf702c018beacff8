"""Outbound webhooks: signed HTTP POSTs that tell a tenant's other systems
(an applicant tracking system, say) what happened, without knowing any
business domain (docs/adr/0038-outbound-webhooks.md,
docs/formats/webhooks.md).

Domains register the event names they emit (:func:`invigil.webhooks.events.register`)
and call :func:`emit` in the transaction of the change::

    from invigil import webhooks
    webhooks.emit(uow, "shortlist.completed", {"shortlist": str(run.id)})
"""

from invigil.jobs import queue as _queue
from invigil.webhooks import jobs as _jobs
from invigil.webhooks.events import register
from invigil.webhooks.service import emit

_queue.register(_jobs.add_tasks)

__all__ = ["emit", "register"]
