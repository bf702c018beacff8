"""Invigil: multi-tenant online assessment and remote proctoring."""

__version__ = "0.1.0"
