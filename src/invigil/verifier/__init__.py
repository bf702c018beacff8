"""Offline checks an auditor runs with nothing but the Python standard library.

Nothing in this package imports any other part of Invigil (an import-linter
contract and a test that runs it alone under ``python -I`` hold it to that):
it is an independent reading of the formats, so a fault in Invigil's own code
cannot vouch for itself.
"""
