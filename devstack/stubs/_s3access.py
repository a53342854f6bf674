"""Who may read from the S3 stand-in without signing: what the app made public.

An object is public when it was written (PutObject, CopyObject, multipart) or
given (PutObjectAcl) a public-read ACL, or when its bucket's policy allows
anyone s3:GetObject on it, as S3 decides. Everything else stays private: an
unsigned request is refused with 403, as MinIO does.

Policies are evaluated for anonymous principals only ("*" or {"AWS": "*"}):
an explicit Deny wins over any Allow; a statement with a Condition, NotAction,
NotResource or NotPrincipal is not evaluated, so it never grants, and a Deny
of that shape denies (the safe side).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from devstack.stubs._s3store import StoreError

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
CANNED = {"private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
          "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write"}
PUBLIC_CANNED = {"public-read", "public-read-write"}
UNEVALUATED = ("Condition", "NotAction", "NotResource", "NotPrincipal")


def acl_from_headers(get) -> str | None:
    """"public-read" or "private" from x-amz-acl / x-amz-grant-read; None when neither is sent.
    `get(name)` reads a request header (or a V2 presigned URL's query)."""
    canned = get("x-amz-acl")
    if canned:
        if canned not in CANNED:
            raise StoreError("InvalidArgument", 400, f"Unknown canned ACL {canned!r}")
        return "public-read" if canned in PUBLIC_CANNED else "private"
    grants = [get(name) for name in ("x-amz-grant-read", "x-amz-grant-full-control")]
    if any(g is not None for g in grants):
        return "public-read" if any(g and ALL_USERS in g for g in grants) else "private"
    return None


def acl_from_xml(body: bytes) -> str:
    """An AccessControlPolicy document: public when AllUsers may READ."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise StoreError("MalformedACLError", 400, "The XML you provided was not well-formed or did not validate against our published schema.") from None
    for grant in root.iter("{*}Grant"):
        uri = grant.findtext("{*}Grantee/{*}URI") or ""
        if uri == ALL_USERS and (grant.findtext("{*}Permission") or "") in ("READ", "FULL_CONTROL"):
            return "public-read"
    return "private"


def _statements(doc) -> list:
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    return [statements] if isinstance(statements, dict) else statements


def check_policy(text: str) -> None:
    """Raises MalformedPolicy unless `text` is a policy document this module can read."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    statements = _statements(doc)
    if not isinstance(statements, list) or not statements:
        raise StoreError("MalformedPolicy", 400, "Policies must be valid JSON with a Statement list")
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            raise StoreError("MalformedPolicy", 400, "Every statement needs an Effect of Allow or Deny")
        if not any(k in st for k in ("Action", "NotAction")) or not any(k in st for k in ("Resource", "NotResource")):
            raise StoreError("MalformedPolicy", 400, "Every statement needs an Action and a Resource")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _anyone(principal) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))


def policy_decision(text: str | None, action: str, resource: str) -> str | None:
    """"Deny", "Allow" or None (no statement says) for an anonymous request."""
    if not text:
        return None
    decision = None
    for st in _statements(json.loads(text)):
        unevaluated = any(k in st for k in UNEVALUATED)
        if st["Effect"] == "Deny" and unevaluated:
            return "Deny"
        if unevaluated or not _anyone(st.get("Principal")):
            continue
        if any(_glob(a, action, ignore_case=True) for a in _as_list(st.get("Action"))) and \
                any(_glob(r, resource) for r in _as_list(st.get("Resource"))):
            if st["Effect"] == "Deny":
                return "Deny"
            decision = "Allow"
    return decision
