"""Grammars for constrained decoding (xgrammar), compiled for one tokenizer.

Two modes (params `eval.constrained`):
- `true`: the output contract's JSON schema; every answer is valid JSON of the contract, in the one
  compact serialisation validate accepts.
- `copy`: the same, and every string the task copies from the request (`copied` in `specs/eval.yaml`:
  names, titles, message bodies, ...) must be a non-empty substring of the request, so a value can't be
  misspelt while it is copied ("Phoenix, AZ" -> "Phoen, AZ"). By default (`copy_boundary: word`) the
  substring also starts and ends between words, so a drifting copy can't be cut short ("Gla" for
  "Glasgow"). That grammar differs per request: one is compiled per row, in time linear in the
  request's length.
"""

from __future__ import annotations

import json

from .text import cut_allowed

# A const that no contract holds: it marks a copied string's place in the schema handed to xgrammar,
# and its rule is then replaced by the request's substring rule.
COPIED = "\u0001copied\u0001"
COPY_RULE = "copied_value"
# Compact separators, no free whitespace: exactly the serialisation validate accepts.
JSON_STYLE = {"any_whitespace": False, "separators": (",", ":")}


def mark_copied(schema: dict, names: frozenset[str] | set[str]) -> tuple[dict, int]:
    """A copy of `schema` in which every string-typed property named in `names` (at any depth, `$defs`
    included) is the const COPIED; returns it and how many properties were marked."""
    marked = 0

    def walk(node):
        nonlocal marked
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) for k, v in node.items()}
        props = out.get("properties")
        if isinstance(props, dict):
            for name, sub in props.items():
                if name in names and isinstance(sub, dict) and sub.get("type") == "string":
                    props[name] = {"const": COPIED}
                    marked += 1
        return out

    return walk(schema), marked


def ebnf_literal(s: str) -> str:
    """`s` as an xgrammar EBNF string literal (quote and backslash escaped, non-ASCII as \\u/\\U)."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif o <= 0xFFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    return '"' + "".join(out) + '"'


def copy_rules(request: str, rule: str = COPY_RULE, whole_words: bool = True) -> str:
    """EBNF rules: `rule` is a JSON string whose content is a non-empty substring of `request`, each
    character written as the contract's serialisation writes it (`json.dumps(ensure_ascii=False)`:
    quote, backslash and control characters escaped, the rest as is). With `whole_words`, the substring
    also starts and ends where `cut_allowed`: a model that drifts from the request mid-word can then
    neither close the string early nor leave it, only copy on.

    Linear in the request's length (a regex of every substring would be quadratic): `rule_i` is
    character i, then the string may end (if it may end there) or go on with `rule_{i+1}`; a substring
    is any `rule_i` it may start at."""
    units = [json.dumps(ch, ensure_ascii=False)[1:-1] for ch in request]
    if not units:  # nothing to copy from: only the empty string (the contract refuses it anyway)
        return f'{rule} ::= "\\"\\""'
    may_cut = [True] * (len(units) + 1)
    if whole_words:
        may_cut = [cut_allowed(request, i) for i in range(len(units) + 1)]
    starts = [i for i in range(len(units)) if may_cut[i]]  # 0 always: the chain from it reaches every rule
    lines = [f'{rule} ::= "\\"" {rule}_any "\\""',
             f"{rule}_any ::= " + " | ".join(f"{rule}_{i}" for i in starts)]
    for i, unit in enumerate(units):
        lit = ebnf_literal(unit)
        alts = [lit] if may_cut[i + 1] else []  # the last character may always end the string
        if i + 1 < len(units):
            alts.append(f"{lit} {rule}_{i + 1}")
        lines.append(f"{rule}_{i} ::= " + " | ".join(alts))
    return "\n".join(lines)


class ContractGrammar:
    """The contract's grammar for one model's tokenizer, compiled once. `for_requests` gives what
    `modeling.generate` takes: the one compiled grammar, or with `copied` names one per request."""

    def __init__(self, tok, model, schema: dict, copied: frozenset[str] = frozenset(), whole_words: bool = True):
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=model.config.vocab_size)
        # Per-request grammars are used once each: caching them would only hold memory.
        self._compiler = xgr.GrammarCompiler(info, cache_enabled=not copied)
        self._template = None
        self._json = None
        self._whole_words = whole_words
        if not copied:
            self._json = self._compiler.compile_json_schema(json.dumps(schema), **JSON_STYLE)
            return
        marked, n = mark_copied(schema, copied)
        if not n:
            raise ValueError(f"no string property of the contract's schema is named {sorted(copied)}: "
                             f"nothing to keep copied")
        text = str(xgr.Grammar.from_json_schema(json.dumps(marked), **JSON_STYLE))
        marker = ebnf_literal(json.dumps(COPIED))
        if marker not in text:  # xgrammar printed the const another way: fail loudly, never unconstrained
            raise RuntimeError(f"xgrammar's EBNF for the contract does not show the copy marker {marker}")
        self._template = text.replace(marker, COPY_RULE)

    @property
    def per_request(self) -> bool:
        return self._template is not None

    def for_requests(self, requests: list[str]):
        """One compiled grammar for every row (JSON mode), or a list of them, one per request."""
        if self._template is None:
            return self._json
        return [self._compiler.compile_grammar(
            self._template + "\n" + copy_rules(r, whole_words=self._whole_words) + "\n") for r in requests]
