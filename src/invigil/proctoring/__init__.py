"""Proctoring: the policy engine, the event pipeline, the staff API."""
