"""What the certification domain registers at start-up: the evidence bundle
of a certificate (:mod:`invigil.certification.bundle`, kind
``certificate``) with the finder that says who may ask for one."""

from __future__ import annotations

import uuid

from invigil.audit import bundle, bundle_registry
from invigil.db.uow import UnitOfWork
from invigil.errors import NotFound


def install() -> None:
    bundle.register("certificate", build_certificate_bundle)
    bundle_registry.register_subject("certificate", certificate_subject)


def build_certificate_bundle(
    uow: UnitOfWork, certificate_id: uuid.UUID, writer: bundle.BundleWriter, options: bundle.Options
) -> None:
    """The certificate's evidence bundle (imported on first use, like the others)."""
    from invigil.certification.bundle import build_certificate

    build_certificate(uow, certificate_id, writer, options)


def certificate_subject(uow: UnitOfWork, certificate_id: uuid.UUID) -> str:
    """A certificate as the subject of an evidence bundle. The bundle routes
    need result:view; a certificate is seen only by a user who also holds
    certificate:view, so a results viewer without it finds no certificate
    here, as no other tenant's is found (RLS). The build job and the command
    line (no user) see every certificate of their tenant. Named by its
    number (no holder's name)."""
    from invigil.certification.models import Certificate
    from invigil.identity import service as identity
    from invigil.security.permissions import Permission

    if uow.actor.kind == "user":
        held = identity.permissions_of(identity.roles_of(uow, uuid.UUID(uow.actor.id)))
        if Permission.CERTIFICATE_VIEW.value not in held:
            raise NotFound(f"certificate {certificate_id} was not found")
    cert = uow.get(Certificate, certificate_id, label="certificate")
    return f"certificate {cert.number}"
