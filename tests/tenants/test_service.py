from __future__ import annotations

import uuid

import pytest

from invigil.db import platform
from invigil.db.engine import Database
from invigil.errors import Conflict, Invalid, NotFound
from invigil.settings import Settings
from invigil.tenants import service
from tests.conftest import make_tenant


def test_create_pins_a_region_and_resolves_by_slug(database: Database, settings: Settings) -> None:
    slug = f"co-{uuid.uuid4().hex[:8]}"
    tenant = service.create_tenant(
        database, slug=slug, name="  Co  ", region="us-east", regions=settings.regions
    )
    ref = platform.tenant_by_slug(database, slug)
    assert ref is not None
    assert (ref.id, ref.name, ref.region) == (tenant.id, "Co", "us-east")
    assert slug in [t.slug for t in service.list_tenants(database)]


@pytest.mark.parametrize(
    "slug,name,region,message",
    [
        ("Bad Slug", "x", "us-east", "not a valid slug"),
        ("ab", "x", "us-east", "not a valid slug"),
        ("ok-slug", "", "us-east", "1-200 characters"),
        ("ok-slug", "x", "mars-1", "unknown region 'mars-1'"),
    ],
)
def test_bad_input_is_refused_with_a_reason(
    database: Database, settings: Settings, slug: str, name: str, region: str, message: str
) -> None:
    with pytest.raises(Invalid, match=message):
        service.create_tenant(
            database, slug=slug, name=name, region=region, regions=settings.regions
        )


def test_a_duplicate_slug_conflicts_and_keeps_the_first(
    database: Database, settings: Settings
) -> None:
    first = make_tenant(database, settings)
    with pytest.raises(Conflict, match="already exists"):
        make_tenant(database, settings, slug=first.slug)
    ref = platform.tenant_by_slug(database, first.slug)
    assert ref is not None and ref.id == first.id


def test_require_names_the_missing_slug(database: Database) -> None:
    with pytest.raises(NotFound, match="no tenant with slug 'nope-nope'"):
        service.require(database, "nope-nope")
