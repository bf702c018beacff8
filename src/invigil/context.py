"""Process-wide services built once from the settings (keys, token issuer, evidence)."""

from __future__ import annotations

from dataclasses import dataclass

from invigil.delivery.links import LinkKey
from invigil.evidence.service import Evidence
from invigil.security.keys import Keys
from invigil.security.secretbox import SecretBox
from invigil.security.tokens import AccessTokens
from invigil.settings import Settings


@dataclass
class Services:
    settings: Settings
    keys: Keys
    tokens: AccessTokens
    box: SecretBox
    evidence: Evidence
    links: LinkKey

    @classmethod
    def build(cls, settings: Settings) -> Services:
        keys = Keys(settings.keys_dir)
        tokens = AccessTokens(
            keys.access,
            issuer=settings.issuer,
            audience=settings.audience,
            minutes=settings.access_token_minutes,
        )
        return cls(
            settings,
            keys,
            tokens,
            SecretBox(settings.keys_dir / "secrets.key"),
            Evidence.from_settings(settings),
            LinkKey(settings.keys_dir / "guest-link.key"),
        )
