"""Tenants: the registry of customers, each pinned to one region."""
