"""The verification snippet of docs/formats/webhooks.md, run as written
against a real delivery received by a local server, and against the doc's
worked example."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from invigil.context import Services
from invigil.db.engine import Database
from invigil.settings import Settings
from invigil.webhooks import jobs, service
from invigil.webhooks.models import WebhookDelivery
from tests.conftest import make_tenant
from tests.webhooks.factories import EVENT, LOCAL, make_endpoint
from tests.webhooks.receiver import receiver

DOC = Path(__file__).parents[2] / "docs" / "formats" / "webhooks.md"


def doc_verifier() -> Callable[..., bool]:
    text = DOC.read_text()
    section = text.split("### Verifying in Python (standard library only)", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "the doc lost its Python snippet"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)
    return namespace["verify_invigil_signature"]  # type: ignore[no-any-return]


def test_the_docs_snippet_verifies_a_real_delivery(database: Database, settings: Settings) -> None:
    verify = doc_verifier()
    services = Services.build(settings.model_copy(update=LOCAL))
    tenant = make_tenant(database, settings)
    with receiver((204, {}, b"")) as hook:
        endpoint, secret = make_endpoint(
            database, tenant.id, services.box, url=hook.url, settings=services.settings
        )
        with database.unit_of_work(tenant.id) as uow:
            service.emit(uow, EVENT, {"shortlist": "s-1", "size": 12})
        with database.unit_of_work(tenant.id) as uow:
            delivery = uow.scalar(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
            )
            assert delivery is not None
        jobs.run(database, services, str(tenant.id), str(delivery.id), delivery.ticket)
        (got,) = hook.received
    header, body = got.headers["Invigil-Signature"], got.body
    assert verify(secret, header, body)  # now, by the receiver's clock
    assert not verify("whsec_" + "x" * 43, header, body)
    assert not verify(secret, header, body.replace(b"12", b"13"))
    sent_at = int(header.split(",")[0].removeprefix("t="))
    assert not verify(secret, header, body, now=sent_at + 301)  # a replay, six minutes on
    assert abs(sent_at - datetime.now(UTC).timestamp()) < 60


def test_the_docs_worked_example_checks_out() -> None:
    verify = doc_verifier()
    text = DOC.read_text()
    secret = re.search(r"Secret `(whsec_[A-Za-z0-9_-]+)`", text)
    body = re.search(r"\n    (\{\"created\":\"2026.*\})\n", text)
    header = re.search(r"Invigil-Signature: (t=\d+,v1=[0-9a-f]{64})", text)
    assert secret and body and header
    assert verify(secret.group(1), header.group(1), body.group(1).encode(), now=1796635800 + 5)
