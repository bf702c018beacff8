"""LTI 1.3: Invigil as a tool in a tenant's learning platforms
(docs/integrations/lti.md, docs/adr/0071-lti.md)."""

from invigil.lti import hooks as _hooks  # noqa: F401 - registers jobs and the release listener
