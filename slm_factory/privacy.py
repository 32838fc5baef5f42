"""The privacy gate: find personal data and secrets in a row, then mask them or reject the row.

Detectors, by kind (each a maintained library where one fits):
- `phone`: Google's libphonenumber (`phonenumbers.PhoneNumberMatcher`, leniency VALID), so only
  numbers that are valid in some numbering plan count, not every run of digits ("invoice #4471").
- `card`: 13-19 digits, spaced or dashed, that pass the Luhn check (`stdnum.luhn`).
- `iban`: country code + check digits + account, validated by `stdnum.iban` (mod-97).
- `secret`: provider tokens (AWS, GitHub, Slack, Stripe, JWT, private keys, ...) by detect-secrets'
  plugins, minus its high-entropy ones (they flag ordinary words in prose), plus "my password is X".
- `ip`: public IPv4 addresses (detect-secrets' plugin) and `url`: URLs that carry credentials or point at a
  private host (localhost, private IPs, .local/.internal/.corp).
- `email`: the common address shape (a regex: no library is better at this than a regex).

A task declares in `specs/task.yaml: pii_allowed` the kinds that are its own data (the tool router's
e-mail recipients); those are never masked. Masking is consistent within a row: the same value gets
the same placeholder (`<PHONE_1>`) in every message, so the answer still copies what the user said.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

KINDS = ("email", "phone", "card", "iban", "secret", "ip", "url")
MODES = ("mask", "reject", "off")

EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}\b")
URL_RE = re.compile(r"\bhttps?://[^\s<>\"']+", re.I)
PASSWORD_RE = re.compile(r"\b(?:password|passcode|passwd|pin|api[ _-]?key|secret|token)\s*(?:is|=|:)\s*"
                         r"[\"']?([^\s\"',;]{4,})", re.I)
PRIVATE_SUFFIXES = (".local", ".internal", ".corp", ".lan", ".intranet")
# Cheap tests that say when the slow detectors cannot find anything, so ordinary requests skip them
# (detect-secrets' 25 plugins cost ~0.4 ms a text, libphonenumber ~0.15 ms): every provider token is
# a long run of letters and digits or follows a keyword; a phone number is a run of 7+ digits.
_TOK = r"[^\s\"',:{}\[\]]"  # a token's characters: JSON punctuation separates, as spaces do
SECRET_HINT_RE = re.compile(rf"(?={_TOK}*\d)(?={_TOK}*[A-Za-z]){_TOK}{{10,}}|pass|pwd|secret|key|token|auth|contrase"
                            r"|cloudant|ibm|softlayer|BEGIN|://|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", re.I)
PHONE_RUN_RE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")
DATE_RE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")


def _may_hold_phone(text: str) -> bool:
    """A run of digits and phone punctuation with 7+ digits once dates are taken out: every valid
    number has that many with its country code (a number without one is read as `region`'s)."""
    return any(sum(c.isdigit() for c in m.group()) >= 7 for m in PHONE_RUN_RE.finditer(DATE_RE.sub(" ", text)))


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    value: str


@lru_cache(maxsize=1)
def _secret_plugins() -> tuple:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    return tuple(cls() for name, cls in sorted(get_mapping_from_secret_type_to_class().items())
                 if "High Entropy" not in name)


def _token_around(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a match to the token around it (a plugin may report a prefix); spaces and JSON's
    quotes and brackets end a token, so a secret inside an answer's string stays inside it."""
    stop = set(" \t\n\r\"'{}[],")
    while start > 0 and text[start - 1] not in stop:
        start -= 1
    while end < len(text) and text[end] not in stop:
        end += 1
    while end > start and text[end - 1] in ".,;:!?)\"'":
        end -= 1
    return start, end


def _private_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.username or parts.password or re.search(r"(?:token|key|secret|sig|password)=", parts.query, re.I):
        return True
    if host == "localhost" or host.endswith(PRIVATE_SUFFIXES):
        return True
    try:
        return ipaddress.ip_address(host).is_private
    except ValueError:
        return False


def find_pii(text: str, region: str = "US", kinds: tuple[str, ...] = KINDS) -> list[Finding]:
    """Non-overlapping findings in `text`, in order; the earlier (then longer) match wins an overlap."""
    found: list[Finding] = []
    if "email" in kinds:
        found += [Finding("email", m.start(), m.end(), m.group()) for m in EMAIL_RE.finditer(text)]
    if "url" in kinds:
        found += [Finding("url", m.start(), m.end(), m.group()) for m in URL_RE.finditer(text)
                  if _private_url(m.group())]
    if "phone" in kinds and _may_hold_phone(text):
        import phonenumbers
        found += [Finding("phone", m.start, m.end, m.raw_string)
                  for m in phonenumbers.PhoneNumberMatcher(text, region)]
    if "card" in kinds:
        from stdnum import luhn
        found += [Finding("card", m.start(), m.end(), m.group()) for m in CARD_RE.finditer(text)
                  if luhn.is_valid(re.sub(r"\D", "", m.group()))]
    if "iban" in kinds:
        from stdnum import iban
        found += [Finding("iban", m.start(), m.end(), m.group()) for m in IBAN_RE.finditer(text)
                  if iban.is_valid(m.group())]
    if "secret" in kinds:
        found += [Finding("secret", m.start(1), m.end(1), m.group(1)) for m in PASSWORD_RE.finditer(text)]
    if ("secret" in kinds or "ip" in kinds) and SECRET_HINT_RE.search(text):
        for plugin in _secret_plugins():
            kind = "ip" if "IP" in plugin.secret_type else "secret"
            if kind not in kinds:
                continue
            for value in set(plugin.analyze_string(text)):
                for m in re.finditer(re.escape(value), text):
                    s, e = (m.start(), m.end()) if kind == "ip" else _token_around(text, m.start(), m.end())
                    found.append(Finding(kind, s, e, text[s:e]))
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    out: list[Finding] = []
    for f in found:
        if not out or f.start >= out[-1].end:
            out.append(f)
    return out


class Masker:
    """Replaces findings with placeholders, the same value always with the same one (per instance:
    use one Masker per row, so a row's user message and answer agree)."""

    def __init__(self) -> None:
        self.placeholders: dict[tuple[str, str], str] = {}
        self.counts: dict[str, int] = {}

    def placeholder(self, f: Finding) -> str:
        key = (f.kind, f.value)
        if key not in self.placeholders:
            n = sum(1 for k in self.placeholders if k[0] == f.kind) + 1
            self.placeholders[key] = f"<{f.kind.upper()}_{n}>"
        self.counts[f.kind] = self.counts.get(f.kind, 0) + 1
        return self.placeholders[key]

    def mask(self, text: str, findings: list[Finding]) -> str:
        ordered = sorted(findings, key=lambda f: f.start)
        names = [self.placeholder(f) for f in ordered]  # numbered in reading order
        for f, name in reversed(list(zip(ordered, names))):
            text = text[:f.start] + name + text[f.end:]
        return text


def privacy_gate(row, mode: str, allowed: frozenset[str] | set[str] = frozenset(), region: str = "US"):
    """One row through the gate: `(row, reasons)`.

    `off`, or nothing found: the row unchanged, no reasons. `mask`: a new row (new content id) whose
    messages after the system prompt (every turn of a multi-turn row, reasoning included) carry placeholders, `annotations.pii_masked` = {kind: count}, no
    reasons. `reject`: one reason `pii_<kind>` per kind found, and the row returned is the masked
    one, so the rejected record does not keep what the gate exists to remove.
    """
    from .rows import Reason, conversation_row

    if mode not in MODES:
        raise ValueError(f"validate.pii must be one of {MODES}, got {mode!r}")
    unknown = sorted(set(allowed) - set(KINDS))
    if unknown:
        raise ValueError(f"pii_allowed names unknown kinds {unknown} (known: {list(KINDS)})")
    if mode == "off":
        return row, []
    kinds = tuple(k for k in KINDS if k not in allowed)
    masker = Masker()

    def masked_text(text: str | None) -> str | None:
        return None if text is None else masker.mask(text, find_pii(text, region, kinds))

    messages = row.messages[:1] + [m.model_copy(update={"content": masked_text(m.content),
                                                         "reasoning": masked_text(m.reasoning)})
                                   for m in row.messages[1:]]
    if not masker.counts:
        return row, []
    counts = dict(sorted(masker.counts.items()))
    # A group key may be derived from the text (an imported row's original id): mask it the same way.
    group = mask_text(row.provenance.group, mode, allowed, region)
    masked = conversation_row(messages, row.provenance.model_copy(update={"group": group}),
                              **{**row.annotations, "pii_masked": counts, "pii_original_id": row.id})
    if mode == "mask":
        return masked, []
    return masked, [Reason(code=f"pii_{kind}", message=f"{n} {kind} value(s) in the row (validate.pii: reject)",
                           detail={"count": n}) for kind, n in counts.items()]


def mask_obj(obj, mode: str, allowed: frozenset[str] | set[str] = frozenset(), region: str = "US"):
    """`mask_text` over a JSON-able object (a rejected record's parsed line); None stays None."""
    return None if obj is None else json.loads(mask_text(json.dumps(obj), mode, allowed, region))


def mask_text(text: str, mode: str, allowed: frozenset[str] | set[str] = frozenset(), region: str = "US") -> str:
    """A raw line (one that never became a row) with its findings masked, unless the gate is off:
    a rejected record keeps the line for the reviewer, not the personal data in it."""
    if mode == "off":
        return text
    return Masker().mask(text, find_pii(text, region, tuple(k for k in KINDS if k not in allowed)))
