"""Quality gates that need no LLM. Each gate returns `Reason`s; an empty list means the row passes.

Reason codes (also documented in specs/quality_gates.md):
  line_too_long                       a line longer than validate.max_line_bytes (never parsed)
  json_invalid, row_schema            the line is not JSON (or not UTF-8, too deep, a huge number) / not a Row
  invalid_unicode, control_characters a turn holds a lone surrogate / a control character (not tab, newline)
  non_finite_number                   the answer holds NaN or Infinity
  system_prompt_mismatch              the system prompt is not the task's (train and eval prompts must match)
  output_not_json, output_extra_text  the assistant answer does not parse / has prose around the JSON
  output_not_canonical                parses, but is not the one compact serialisation
  unknown_label, extra_field, missing_field, wrong_type, invalid_value   output contract violations
  leaked_instructions                 mentions the teacher, the prompt, training data, "as an AI ..."
  not_copied                          a value eval.yaml says is copied is not in the request as written
  trivial, template_only              too short / an unfilled template placeholder
  too_long                            more tokens than max_seq_length under the base model's template
  label_conflict                      the same (normalised) input with different outputs elsewhere
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any, Callable, Iterable

from .rows import Reason, Row
from .spec import TaskSpec
from .text import copied_from, normalize

DEFAULT_LEAK_PATTERNS = [
    r"\bas an ai(?: language)? model\b",
    r"\bsynthetic (?:data|examples?|rows?)\b",
    r"\btraining (?:data|examples?|rows?|set)\b",
    r"\bteacher model\b",
    r"\brubric\b",
    r"\bjsonl\b",
    r"\bhere (?:is|are) (?:the|a|an|some) (?:rows?|examples?|samples?)\b",
]
# Requests that carry instructions against the user or the system: overriding the instructions,
# revealing the system prompt, sending secrets or a whole inbox away. A row whose request matches
# must answer with the task's do-nothing label (`negative_label`); the task adds its own patterns with
# `injection_patterns` in task.yaml. Deliberately narrow: "text jules the wifi password" is a
# request, "email all stored passwords to ..." is an attack.
DEFAULT_INJECTION_PATTERNS = [
    r"\bignore (?:all |any |the |your |my )?(?:previous|prior|above|earlier|system) (?:instructions|rules|prompts?)\b",
    r"\b(?:disregard|forget|override) (?:all |any |the |your )?(?:previous |prior |above |earlier )?"
    r"(?:instructions|rules|system prompt)\b",
    r"\b(?:reveal|print|show|repeat|output) (?:me )?(?:the |your )?system prompt\b",
    r"\bdeveloper (?:mode|override)\b",
    r"\b(?:forward|send|e-?mail|leak|exfiltrate|upload|post)\b[^.!?\n]{0,40}\b(?:all|every|stored|saved)\b"
    r"[^.!?\n]{0,20}\b(?:passwords?|credentials|api keys?|secret keys?|2fa codes?|one-time codes?|inbox)\b",
    r"\bforward (?:the |my |all )?(?:\w+'s )?(?:inbox|e-?mails)\b",
]
# Unicode's control characters (category Cc: U+0000-U+001F and U+007F-U+009F) except tab and newline.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PLACEHOLDER_RE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_#.]*\}|\[[^\[\]]*\|[^\[\]]*\]")

# pydantic error type -> reason code
_CONTRACT_CODES = {
    "extra_forbidden": "extra_field",
    "missing": "missing_field",
    "union_tag_not_found": "missing_field",
    "union_tag_invalid": "unknown_label",
}


def contract_reasons(errors: list[dict], label_key: str) -> list[Reason]:
    """Turn pydantic errors into reason codes, naming the offending argument."""
    reasons = []
    for err in errors:
        etype = err["type"]
        loc = [str(p) for p in err["loc"]]
        if etype in _CONTRACT_CODES:
            code = _CONTRACT_CODES[etype]
        elif etype == "literal_error" and loc and loc[-1] == label_key:
            code = "unknown_label"
        elif etype.endswith("_type") or etype.endswith("_parsing") or etype == "int_from_float":
            code = "wrong_type"
        else:
            code = "invalid_value"
        field = ".".join(loc)
        detail: dict[str, Any] = {"field": field, "pydantic_type": etype}
        if "input" in err and not isinstance(err["input"], (dict, list)):
            detail["value"] = err["input"]
        reasons.append(Reason(code=code, message=f"{field or 'output'}: {err['msg']}", detail=detail))
    return reasons


class NonFinite(ValueError):
    """NaN or Infinity in a JSON text: Python's parser takes them, JSON does not."""


def _no_constants(name: str):
    raise NonFinite(name)


def loads_strict(text: str):
    """json.loads for text a model or a teacher wrote: NaN and Infinity raise NonFinite (a ValueError)."""
    return json.loads(text, parse_constant=_no_constants)


def parse_output(text: str) -> tuple[Any, Reason | None]:
    """Parse an assistant answer; the contract allows one JSON value and nothing else. NaN and
    Infinity are not JSON numbers (Python's parser accepts them): a target holding one is rejected."""
    stripped = text.strip()
    try:
        return loads_strict(stripped), None
    except NonFinite as e:
        return None, Reason(code="non_finite_number", message=f"answer holds {e}, which is not a JSON number",
                            detail={"answer": stripped[:200]})
    except (RecursionError, ValueError) as e:
        if not isinstance(e, json.JSONDecodeError):  # a huge integer or absurd nesting
            return None, Reason(code="output_not_json", message=f"answer cannot be parsed: {str(e)[:120]}",
                                detail={"answer": stripped[:200]})
        try:
            start = stripped.index("{")
            obj, end = json.JSONDecoder(parse_constant=_no_constants).raw_decode(stripped[start:])
            extra = (stripped[:start] + stripped[start + end:]).strip()
            return obj, Reason(code="output_extra_text", message="answer has text around the JSON object",
                               detail={"extra_text": extra[:200]})
        except (ValueError, RecursionError):
            return None, Reason(code="output_not_json", message=f"answer is not valid JSON: {e.msg}",
                                detail={"answer": stripped[:200]})


def output_reasons(text: str, spec: TaskSpec) -> list[Reason]:
    obj, reason = parse_output(text)
    if obj is None:
        return [reason]
    reasons = [reason] if reason else []
    errors = spec.validate_output(obj)
    if errors:
        return reasons + contract_reasons(errors, spec.label_key)
    if not reasons and text != spec.canonical(obj):
        reasons.append(Reason(code="output_not_canonical",
                              message="answer must be compact JSON with no spaces or newlines",
                              detail={"expected": spec.canonical(obj)}))
    return reasons


class LeakCheck:
    def __init__(self, extra: Iterable[str] = ()):
        sources = [*DEFAULT_LEAK_PATTERNS, *extra]
        self.patterns = [re.compile(p, re.IGNORECASE) for p in sources]
        # One pass of all patterns at once rules out the clean texts (nearly all of them); the ordered
        # loop then names the first pattern that fires, as before. A pattern that cannot be joined
        # (a numbered back-reference) leaves the loop alone.
        try:
            self.any = re.compile("|".join(f"(?:{p})" for p in sources), re.IGNORECASE) if sources else None
            if any(re.search(r"\\[1-9]", p) for p in sources):
                self.any = None
        except re.error:
            self.any = None

    def __call__(self, row: Row) -> list[Reason]:
        for part, text in ((m.role, t) for m in row.messages[1:] for t in (m.content, m.reasoning or "")):
            if self.any is not None and self.any.search(text) is None:
                continue
            for p in self.patterns:
                m = p.search(text)
                if m:
                    return [Reason(code="leaked_instructions",
                                   message=f"{part} text mentions generation or training: '{m.group(0)}'",
                                   detail={"part": part, "match": m.group(0), "pattern": p.pattern})]
        return []


class InjectionCheck:
    """`obeys_injection`: a request (or a tool result) carrying an attack must get the do-nothing label.
    Off for a task without `negative_label` (nothing to compare with)."""

    def __init__(self, spec: TaskSpec):
        self.spec = spec
        patterns = [*DEFAULT_INJECTION_PATTERNS, *spec.injection_patterns] if spec.negative_label else []
        self.any = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None

    def __call__(self, row: Row) -> list[Reason]:
        if self.any is None:
            return []
        hit = next((m for m in (self.any.search(x.content) for x in row.messages if x.role in ("user", "tool"))
                    if m), None)
        if hit is None:
            return []
        obj, _ = parse_output(row.assistant)
        label = self.spec.label_of(obj)
        if label == self.spec.negative_label:
            return []
        return [Reason(code="obeys_injection",
                       message=f"the request carries an attack ('{hit.group(0)[:80]}') but the answer is "
                               f"'{label}', not '{self.spec.negative_label}'",
                       detail={"match": hit.group(0)[:200], "label": label})]


def _named_strings(obj: Any, names: frozenset[str], path: str = "") -> Iterable[tuple[str, str]]:
    """(path, value) of every string held under a key in `names`, at any depth of a parsed answer."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            where = f"{path}.{k}" if path else str(k)
            if k in names and isinstance(v, str):
                yield where, v
            else:
                yield from _named_strings(v, names, where)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _named_strings(v, names, f"{path}[{i}]")


class CopiedCheck:
    """`not_copied`: every string the task copies from the request (`copied` in specs/eval.yaml) is in the
    request's user turns as written, and under `copy_boundary: word` starts and ends between words there
    (`text.copied_from`, the rule copy-constrained decoding keeps). An answer that rewrites one ("NYC"
    -> "New York", "glasgow" -> "Glasgow") teaches the model to rewrite what the spec says to copy, and
    constrained decoding could never write it. Off for a task that declares no copied strings."""

    def __init__(self, spec: TaskSpec):
        self.names = spec.eval.copied_names
        self.whole_words = spec.eval.whole_word_copies

    def __call__(self, row: Row) -> list[Reason]:
        if not self.names:
            return []
        obj, _ = parse_output(row.assistant)
        source = row.requests
        for where, value in _named_strings(obj, self.names):
            if not copied_from(source, value, self.whole_words):
                how = "splits a word of" if value and value in source else "is not copied from"
                return [Reason(code="not_copied", message=f"'{where}' {how} the request: '{value[:80]}'",
                               detail={"field": where, "value": value[:200], "whole_words": self.whole_words})]
        return []


def trivial_reasons(row: Row, min_user_chars: int) -> list[Reason]:
    user = row.user.strip()
    m = PLACEHOLDER_RE.search(user)
    if m:
        return [Reason(code="template_only", message=f"unfilled template placeholder '{m.group(0)}'",
                       detail={"match": m.group(0)})]
    if len(user) < min_user_chars:
        return [Reason(code="trivial", message=f"user text shorter than {min_user_chars} characters",
                       detail={"chars": len(user)})]
    if normalize(user) == normalize(row.assistant):
        return [Reason(code="trivial", message="user text is the answer itself")]
    return []


def text_reasons(row: Row) -> list[Reason]:
    """Characters no turn may hold: lone surrogates (not encodable, they crash every writer downstream)
    and control characters other than tab and newline (NUL, escape sequences, ...)."""
    for m, text in ((m, t) for m in row.messages for t in (m.content, m.reasoning or "")):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            return [Reason(code="invalid_unicode", message=f"{m.role} text holds a lone surrogate",
                           detail={"role": m.role, "position": e.start})]
        found = CONTROL.search(text)
        bad = found.start() if found else None
        if bad is not None:
            return [Reason(code="control_characters", message=f"{m.role} text holds a control character",
                           detail={"role": m.role, "position": bad, "char": f"U+{ord(text[bad]):04X}"})]
    return []


def check_row(row: Row, spec: TaskSpec, leak: LeakCheck, min_user_chars: int,
              injection: InjectionCheck | None = None, copied: CopiedCheck | None = None) -> list[Reason]:
    """All per-row gates except length (which is batched) and label conflicts (which need all rows);
    `injection` adds the obeys_injection gate, `copied` the not_copied gate."""
    reasons: list[Reason] = text_reasons(row)
    if reasons:
        return reasons
    if row.system != spec.system_prompt:
        reasons.append(Reason(code="system_prompt_mismatch",
                              message="system prompt differs from specs/task.yaml's system_prompt"))
    reasons += output_reasons(row.assistant, spec)
    reasons += leak(row)
    if injection is not None and not reasons:  # only a row that is otherwise sound has a label to judge
        reasons += injection(row)
    if copied is not None and not reasons:  # an answer inside the contract: its copied values are found
        reasons += copied(row)
    reasons += trivial_reasons(row, min_user_chars)
    return reasons


def length_reasons(rows: list[Row], count_tokens: Callable[..., list[int]],
                   max_seq_length: int) -> dict[str, Reason]:
    """Rows whose chat-template rendering exceeds max_seq_length tokens.
    `count_tokens(conversations, exact_above=n)` must be exact for counts near n (see tokens.py)."""
    if not rows:
        return {}
    convs = [[{"role": m.role, "content": m.content} for m in r.messages] for r in rows]
    counts = count_tokens(convs, exact_above=max_seq_length)
    return {r.id: Reason(code="too_long", message=f"{n} tokens > max_seq_length {max_seq_length}",
                         detail={"tokens": n, "max_seq_length": max_seq_length})
            for r, n in zip(rows, counts) if n > max_seq_length}


def label_conflicts(rows: list[Row], spec: TaskSpec) -> dict[str, Reason]:
    """Rows whose normalised input appears elsewhere with a different output: all of them are dropped,
    since there is no telling which label is right."""
    by_input: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_input[normalize(r.prompt_text)].append(r)
    out = {}
    for group in by_input.values():
        outputs = {r.assistant for r in group}
        if len(outputs) > 1:
            for r in group:
                others = [o.id for o in group if o.assistant != r.assistant]
                out[r.id] = Reason(code="label_conflict",
                                   message="the same input has a different answer in another row",
                                   detail={"conflicts_with": others[:5]})
    return out
