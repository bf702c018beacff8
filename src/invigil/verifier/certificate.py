"""The checks that know a certificate's bundle (docs/formats/certificate-bundle.md).

subject       every record is this certificate's: the program version is
              the one it names (and its definition hashes to its
              definition_sha256), the state changes are its own, numbered
              1, 2, ... without a gap, the first the issue itself, each
              moving from the state the one before left, by an allowed
              move, never back in time; the results are exactly those its
              basis names (attempt, revision, document sha256), no more,
              no fewer
state         the current state in ``records/state.json`` is the last state
              change (state, number, time)
requirements  the program's requirements, evaluated again here over the
              basis and the results, are met (:func:`meets`), and the
              expiry follows from the validity
credential    (when the bundle carries one) the VC-JWT is signed by the
              included issuer key, and names this certificate, its dates and
              its place in the status list

This is an independent reading of the domain's rules (docs/adr/0047): it
imports nothing of Invigil, so the server cannot vouch for itself.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .bundle import Bundle, Failed

CERTIFICATE = "records/certificate.json"
STATE = "records/state.json"
VERSION = "records/program_version.json"
CHANGES = "records/state_changes/"
RESULTS = "records/results/"
CREDENTIAL = "records/credential.jwt"
ISSUER_KEY = "records/issuer_key.json"
LIST_BITS = 131_072  # entries per Bitstring Status List (the issuer's list size)
KNOWN = (CERTIFICATE, STATE, VERSION, CREDENTIAL, ISSUER_KEY)
# state -> the states it may change to (invigil.certification.lifecycle.MOVES)
MOVES: dict[str, tuple[str, ...]] = {
    "issued": ("suspended", "revoked", "expired"),
    "suspended": ("issued", "revoked", "expired"),
    "expired": ("revoked",),
    "revoked": (),
}
# The integrity outcomes each program setting accepts.
INTEGRITY = {"clear": ("clear",), "clear_or_cleared": ("clear", "cleared")}


def _sha(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _obj(b: Bundle, path: str) -> dict[str, Any]:
    doc = b.json(path)
    if not isinstance(doc, dict):
        raise Failed(path, "is not a JSON object")
    return doc


def _paths(b: Bundle, prefix: str) -> list[str]:
    return sorted(m["path"] for m in b.members if m["path"].startswith(prefix))


def _when(value: Any, path: str, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Failed(path, f"its {name} {value!r} is not a date and time") from None
    if at.tzinfo is None:
        raise Failed(path, f"its {name} {value!r} names no time zone")
    return at


def _dec(value: Any, path: str, name: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise Failed(path, f"its {name} {value!r} is not a number") from None


def add_months(at: datetime, months: int) -> datetime:
    """``at`` plus calendar months, the day clamped to the month's end."""
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def subject(b: Bundle) -> None:
    cid = b.manifest["subject"]["id"]
    cert = _obj(b, CERTIFICATE)
    if cert.get("id") != cid or b.member(CERTIFICATE)["record"]["id"] != cid:  # type: ignore[index]
        raise Failed(CERTIFICATE, f"is not the record of certificate {cid}")
    for path in _paths(b, "records/"):
        known = path in KNOWN or path.startswith((CHANGES, RESULTS))
        if not known:
            raise Failed(path, "is not a member a certificate's bundle holds")
    version = _obj(b, VERSION)
    if version.get("id") != cert.get("program_version_id") or version.get("program_id") != cert.get(
        "program_id"
    ):
        raise Failed(VERSION, "is not the program version the certificate was issued under")
    if _sha(version.get("definition")) != version.get("definition_sha256"):
        raise Failed(VERSION, "its definition does not hash to its definition_sha256")
    b.facts["certificate"] = cert
    b.facts["changes"] = _changes(b, cid, cert)
    b.facts["results"] = _results(b, cert)
    b.facts["counts"] |= {
        "state changes": len(b.facts["changes"]),
        "results": len(b.facts["results"]),
    }


def _changes(b: Bundle, cid: str, cert: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    state: str | None = None
    last: datetime | None = None
    for n, path in enumerate(_paths(b, CHANGES), start=1):
        doc = _obj(b, path)
        if doc.get("certificate_id") != cid:
            raise Failed(path, f"changes certificate {doc.get('certificate_id')}, not {cid}")
        seq = doc.get("seq")
        if not isinstance(seq, int) or path != f"{CHANGES}{seq:04d}.json":
            raise Failed(path, f"holds state change {seq!r}, not the one its name says")
        if seq != n:
            raise Failed(path, f"is state change {seq}, but change {n} is missing before it")
        at = _when(doc.get("changed_at"), path, "changed_at")
        if n == 1:
            if doc.get("from_state") is not None or doc.get("state") != "issued":
                raise Failed(path, "the first state change is not the issue (none -> issued)")
            if at != _when(cert.get("issued_at"), CERTIFICATE, "issued_at"):
                raise Failed(path, "the issue is not dated when the certificate was issued")
        else:
            if doc.get("from_state") != state:
                raise Failed(path, f"moves from {doc.get('from_state')}, not from {state}")
            if doc.get("state") not in MOVES.get(str(state), ()):
                to = doc.get("state")
                raise Failed(path, f"a certificate that is {state} cannot become {to}")
            if last is not None and at < last:
                raise Failed(path, "is dated before the change it follows")
        state, last = doc.get("state"), at
        found.append(doc)
    if not found:
        raise Failed(CHANGES, "holds no state change: every certificate has its issue")
    return found


def _results(b: Bundle, cert: dict[str, Any]) -> dict[tuple[str, Any], dict[str, Any]]:
    """Each result in the bundle, keyed by (attempt, revision) as its entry
    recorded them, matched one to one with the certificate's basis."""
    basis = cert.get("basis")
    if not isinstance(basis, list) or not all(isinstance(x, dict) for x in basis):
        raise Failed(CERTIFICATE, "its basis is not a list of results")
    wanted: dict[tuple[str, Any], dict[str, Any]] = {}
    for item in basis:
        key = (str(item.get("attempt_id")), item.get("revision"))
        if key in wanted:
            raise Failed(CERTIFICATE, f"its basis names result {key} twice")
        wanted[key] = item
    found: dict[tuple[str, Any], dict[str, Any]] = {}
    for path in _paths(b, RESULTS):
        m = b.member(path)
        seq = m["record"]["seq"]  # type: ignore[index]
        payload = b.facts["entries"][seq].get("payload") or {}
        key = (str(payload.get("attempt_id")), payload.get("revision"))
        item = wanted.get(key)
        if item is None:
            raise Failed(path, f"is result {key[1]} of attempt {key[0]}, which the basis names not")
        if not isinstance(key[1], int) or path != f"{RESULTS}{key[0]}-{key[1]:04d}.json":
            raise Failed(path, f"holds result {key[1]} of attempt {key[0]}, not what its name says")
        if item.get("document_sha256") != m["sha256"]:  # type: ignore[index]
            raise Failed(path, "is not the result document the certificate names (sha256)")
        found[key] = {"path": path, "basis": item, "result": _obj(b, path)}
    for key in wanted:
        if key not in found:
            missing = f"result {key[1]} of attempt {key[0]}"
            raise Failed(RESULTS, f"lacks {missing}, which the basis names")
    return found


def state(b: Bundle) -> None:
    cid = b.manifest["subject"]["id"]
    now = _obj(b, STATE)
    last = b.facts["changes"][-1]
    if now.get("certificate_id") != cid:
        raise Failed(STATE, f"is the state of certificate {now.get('certificate_id')}, not {cid}")
    said = (now.get("state"), now.get("state_seq"))
    if said != (last.get("state"), last.get("seq")):
        raise Failed(
            STATE,
            f"says {said[0]} (change {said[1]}); the last state change is "
            f"{last.get('state')} (change {last.get('seq')})",
        )
    at = _when(now.get("state_changed_at"), STATE, "state_changed_at")
    if at != _when(last.get("changed_at"), STATE, "changed_at"):
        raise Failed(STATE, "its time is not the last state change's")


def meets(definition: dict[str, Any], results: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether results meet a program's requirements, and why not.

    ``results``: one per basis entry, ``{"exam_id", "percent" (Decimal),
    "passed", "needs_grading", "integrity"}``. An entry counts when it is of
    one of the program's exams, final (not awaiting grading), passed, at
    least ``min_percent`` and of an integrity outcome the program accepts
    (``clear``: clear only; ``clear_or_cleared``: also cleared by a
    reviewer). ``mode`` ``all``: every exam has a counting entry; ``any``:
    one does. (Prerequisite certifications are not in the bundle.)"""
    exams = [str(e) for e in definition.get("exam_ids") or []]
    least = definition.get("min_percent")
    accepted = INTEGRITY.get(str(definition.get("integrity")), ())
    met: set[str] = set()
    for r in results:
        exam = str(r.get("exam_id"))
        why = None
        if exam not in exams:
            why = f"exam {exam} is none of the program's"
        elif r.get("needs_grading") is not False:
            why = f"the result of exam {exam} is not final (awaiting grading)"
        elif r.get("passed") is not True:
            why = f"the result of exam {exam} is not a pass"
        elif least is not None and r["percent"] < Decimal(str(least)):
            why = f"exam {exam}: {r['percent']} percent is below {least}"
        elif r.get("integrity") not in accepted:
            why = f"exam {exam}: integrity {r.get('integrity')!r} is not {' or '.join(accepted)}"
        if why is not None:
            return False, why
        met.add(exam)
    if definition.get("mode") == "any":
        return (bool(met), "" if met else "no exam of the program was passed")
    missing = [e for e in exams if e not in met]
    return (not missing, f"exam {missing[0]} has no result" if missing else "")


def requirements(b: Bundle) -> None:
    cert = b.facts["certificate"]
    definition = _obj(b, VERSION).get("definition")
    if not isinstance(definition, dict):
        raise Failed(VERSION, "holds no definition")
    rows = []
    for item in b.facts["results"].values():
        path, basis, result = item["path"], item["basis"], item["result"]
        percent = _dec(result.get("percent"), path, "percent")
        if percent != _dec(basis.get("percent"), CERTIFICATE, "basis percent"):
            named = basis.get("percent")
            raise Failed(path, f"percent {percent} is not the {named} the basis names")
        rows.append(
            {
                "exam_id": basis.get("exam_id"),
                "percent": percent,
                "passed": result.get("passed"),
                "needs_grading": result.get("needs_grading"),
                "integrity": basis.get("integrity"),
            }
        )
    ok, why = meets(definition, rows)
    if not ok:
        raise Failed(CERTIFICATE, f"the program's requirements are not met: {why}")
    issued = _when(cert.get("issued_at"), CERTIFICATE, "issued_at")
    months, expires = definition.get("validity_months"), cert.get("expires_at")
    if months is None:
        if expires is not None:
            raise Failed(CERTIFICATE, "expires, but its program's certificates never do")
        return
    if expires is None:
        raise Failed(CERTIFICATE, f"never expires, but its program's last {months} months")
    until = _when(expires, CERTIFICATE, "expires_at")
    plain = add_months(issued, int(months))
    renewal_from_expiry = cert.get("renews_id") is not None and definition.get("renew_from") == (
        "expiry"
    )
    if until <= issued or (not renewal_from_expiry and until != plain):
        raise Failed(CERTIFICATE, f"expires {expires}; {months} months from its issue is {plain}")


# --- the signed credential ---------------------------------------------------


def _second(at: datetime) -> datetime:
    """A credential's dates are XML Schema dateTimes, commonly to the whole
    second: compared at that precision."""
    return at.replace(microsecond=0)


def check_credential(token: str, jwk: Any, cert: dict[str, Any]) -> None:
    """A VC-JWT (compact JWS) of the certificate, checked against the
    issuer's public JWK: its signature, then that it names the certificate
    (its ``id``, or ``jti``, ends with the certificate's id), its dates
    (``validFrom``/``validUntil``, or the VC 1.1 ``issuanceDate``/
    ``expirationDate``, to the second, and ``nbf``/``exp`` when present) and its status
    list index. Raises :class:`Failed` naming ``records/credential.jwt``."""
    from invigil.verifier.credential import CredentialError, verify

    if not isinstance(jwk, dict):
        raise Failed(ISSUER_KEY, "is not a JWK")
    try:
        payload = verify(token, jwk)
    except CredentialError as exc:
        raise Failed(CREDENTIAL, str(exc)) from None
    inner = payload.get("vc")
    vc: dict[str, Any] = inner if isinstance(inner, dict) else payload
    cid = str(cert.get("id"))
    named = [str(v) for v in (vc.get("id"), payload.get("jti")) if v is not None]
    if not named or not all(n.endswith(cid) for n in named):
        raise Failed(CREDENTIAL, f"names credential {named or None}, not certificate {cid}")
    issued = _when(cert.get("issued_at"), CERTIFICATE, "issued_at")
    start = vc.get("validFrom", vc.get("issuanceDate"))
    if start is None or _second(_when(start, CREDENTIAL, "validFrom")) != _second(issued):
        raise Failed(CREDENTIAL, f"is valid from {start}, not from the issue {issued.isoformat()}")
    expires, until = cert.get("expires_at"), vc.get("validUntil", vc.get("expirationDate"))
    if (expires is None) != (until is None) or (
        expires is not None
        and _second(_when(until, CREDENTIAL, "validUntil"))
        != _second(_when(expires, CERTIFICATE, "expires_at"))
    ):
        raise Failed(CREDENTIAL, f"is valid until {until}; the certificate expires {expires}")
    for claim, value in (("nbf", issued), ("exp", expires)):
        if claim in payload:
            at = _when(value, CERTIFICATE, claim) if value is not None else None
            if at is None or payload[claim] != int(at.timestamp()):
                raise Failed(CREDENTIAL, f"its {claim} is not the certificate's date")
    statuses = vc.get("credentialStatus")
    for status in statuses if isinstance(statuses, list) else [statuses] if statuses else []:
        index = status.get("statusListIndex") if isinstance(status, dict) else None
        url = str(status.get("statusListCredential", "")) if isinstance(status, dict) else ""
        own = int(cert.get("status_index") or 0)
        # Lists hold LIST_BITS entries: list own // LIST_BITS, index own % LIST_BITS.
        if index is None or str(index) != str(own % LIST_BITS):
            raise Failed(CREDENTIAL, f"its status list index {index} is not {own % LIST_BITS}")
        if not url.endswith(f"/{own // LIST_BITS}"):
            raise Failed(CREDENTIAL, f"its status list {url} is not list {own // LIST_BITS}")


def credential(b: Bundle) -> str | None:
    have = b.member(CREDENTIAL) is not None, b.member(ISSUER_KEY) is not None
    if not all(have):
        raise Failed(CREDENTIAL if not have[0] else ISSUER_KEY, "is missing: the credential "
                     "and the issuer key go together")  # fmt: skip
    try:
        token = b.read(CREDENTIAL).decode("ascii")
    except UnicodeDecodeError:
        raise Failed(CREDENTIAL, "is not ASCII text") from None
    check_credential(token, b.json(ISSUER_KEY), b.facts["certificate"])
    b.facts["counts"] |= {"credential": 1}
    return None
