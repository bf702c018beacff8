"""``python -m invigil.verifier BUNDLE [--key PUBKEY] [--json]``: exit 0
when every check that ran holds, 1 naming the first member and check that
failed, 2 when the key file cannot be read."""

from __future__ import annotations

import argparse
import json
import sys

from . import BadKey, Summary, load_key, verify


def describe(summary: Summary) -> str:
    lines = []
    for name, state in summary.checks.items():
        why = summary.notes.get(name)
        lines.append(f"  {name:<12} {state}" + (f" ({why})" if why else ""))
    first = summary.first
    if first is not None:
        head = f"NOT verified: {first.member}: {first.check}: {first.problem}"
    else:
        counted = ", ".join(f"{v} {k}" for k, v in summary.counts.items())
        head = f"{summary.kind} {summary.subject}: verified ({counted})"
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m invigil.verifier", description=__doc__)
    parser.add_argument("bundle")
    parser.add_argument("--key", help="trust only this checkpoint key (PEM, JWK or key set)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        pinned = load_key(args.key) if args.key else None
    except BadKey as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = verify(args.bundle, pinned)
    print(json.dumps(summary.out()) if args.json else describe(summary))
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
