"""The offline template grammar: turns `specs/templates.yaml` into varied (user, output) pairs.

Grammar
-------
slots:                       named value lists
  person: [Sam, "Dr. Okafor"]                       a plain value is said and output as is
  clock:                                            a dict value separates what the user says from
    - {say: ["9am", "9 a.m."], value: "09:00"}      the normalised output value; extra fields
    - {say: "€50", amount: 50, currency: EUR}       are reachable as {slot.field}
templates:
  - id: reminder_basic                 stable id; rows from one pattern share a split group
    category: create_reminder          quota cell = (category, difficulty)
    difficulty: easy
    data_type: canonical               one of the data types listed in quotas.yaml
    weight: 1                          relative pick weight inside its cell (default 1)
    transforms: {typo: 0.5, lowercase: 0.3, uppercase: 0, emoji: 0.3, strip_punct: 0.3}
    user:
      - "[please |]remind me to {task} {date} at {clock}"
    output: {tool: create_reminder, arguments: {text: "{task}", date: "{date}", time: "{clock}"}}

In user patterns `{slot}` is replaced by what the user says and `[a|b|]` picks one alternative
(possibly empty). `{slot#2}` draws a second, different value of the same slot. In the output, a
string that is exactly "{slot}" takes the slot's typed value (ints stay ints); otherwise slots are
substituted into the string. Transforms (typos, casing, emoji) touch only the literal words of a
pattern, never slot values, because values are copied verbatim into the output.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .spec import SpecError

SLOT_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:#(\d+))?(?:\.([A-Za-z_][A-Za-z0-9_]*))?\}")
ALT_RE = re.compile(r"\[([^\[\]]*)\]")
EMOJI = ["🙏", "😅", "👍", "🙂", "⏰", "📅", "✨", "😊", "🔥", "💬"]


@dataclass
class Template:
    id: str
    category: str
    difficulty: str
    data_type: str
    user: list[str]
    output: Any
    weight: float = 1.0
    transforms: dict[str, float] | None = None


@dataclass
class Grammar:
    slots: dict[str, list[Any]]
    templates: list[Template]

    @classmethod
    def load(cls, path: str | Path) -> "Grammar":
        path = Path(path)
        if not path.exists():
            raise SpecError(f"{path} not found: the template teacher needs a grammar")
        raw = yaml.safe_load(path.read_text()) or {}
        slots = raw.get("slots", {})
        templates = []
        for i, t in enumerate(raw.get("templates", [])):
            missing = [k for k in ("id", "category", "difficulty", "data_type", "user", "output") if k not in t]
            if missing:
                raise SpecError(f"{path}: template #{i} ({t.get('id', '?')}) lacks {missing}")
            users = t["user"] if isinstance(t["user"], list) else [t["user"]]
            templates.append(Template(
                id=t["id"], category=t["category"], difficulty=t["difficulty"], data_type=t["data_type"],
                user=users, output=t["output"], weight=float(t.get("weight", 1.0)),
                transforms=t.get("transforms"),
            ))
        grammar = cls(slots=slots, templates=templates)
        grammar.check()
        return grammar

    def check(self) -> None:
        ids = [t.id for t in self.templates]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise SpecError(f"duplicate template ids: {sorted(dupes)}")
        for t in self.templates:
            for text in t.user + _strings(t.output):
                for m in SLOT_RE.finditer(text):
                    if m.group(1) not in self.slots:
                        raise SpecError(f"template {t.id}: unknown slot '{m.group(1)}'")

    def candidates(self, category: str, difficulty: str | None = None,
                   data_type: str | None = None) -> list[Template]:
        return [t for t in self.templates if t.category == category
                and (difficulty is None or t.difficulty == difficulty)
                and (data_type is None or t.data_type == data_type)]

    def render(self, template: Template, rng: random.Random) -> dict:
        """One (user, output) pair from a template; `group` names the pattern it came from."""
        p_idx = rng.randrange(len(template.user))
        pattern = template.user[p_idx]
        chosen: dict[tuple[str, int], Any] = {}

        def value_for(name: str, nth: int) -> Any:
            key = (name, nth)
            if key not in chosen:
                taken = [v for (n, _), v in chosen.items() if n == name]
                pool = [v for v in self.slots[name] if v not in taken] or self.slots[name]
                chosen[key] = rng.choice(pool)
            return chosen[key]

        # A plain-string slot value may itself contain slots ("capital of {country}"): inline such a
        # value into the pattern, so its inner slots get filled too. Bounded, so cycles cannot hang.
        for _ in range(5):
            nested = [m for m in SLOT_RE.finditer(pattern) if not m.group(3)
                      and any(isinstance(v, str) and SLOT_RE.search(v) for v in self.slots[m.group(1)])]
            if not nested:
                break
            m = nested[0]
            pattern = pattern[:m.start()] + str(value_for(m.group(1), int(m.group(2) or 1))) + pattern[m.end():]
        # Pick inline alternatives, then split the pattern into literal and slot segments.
        pattern = ALT_RE.sub(lambda m: rng.choice(m.group(1).split("|")), pattern)
        segments: list[tuple[str, bool]] = []
        pos = 0
        for m in SLOT_RE.finditer(pattern):
            segments.append((pattern[pos:m.start()], True))
            v = value_for(m.group(1), int(m.group(2) or 1))
            segments.append((_say(v, m.group(3), rng), False))
            pos = m.end()
        segments.append((pattern[pos:], True))
        segments = _transform(segments, template.transforms or {}, rng)
        user = re.sub(r"[ \t]+", " ", "".join(s for s, _ in segments)).strip()
        user = re.sub(r" +([,.?!])", r"\1", user)
        output = _fill(template.output, lambda name, nth, fld: _value(value_for(name, nth), fld))
        return {"user": user, "output": output, "data_type": template.data_type,
                "group": f"{template.id}#{p_idx}", "template": template.id}


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


def _say(v: Any, fld: str | None, rng: random.Random) -> str:
    if isinstance(v, dict):
        if fld:
            return str(v[fld])
        say = v.get("say", v.get("value"))
        return str(rng.choice(say) if isinstance(say, list) else say)
    return str(v)


def _value(v: Any, fld: str | None) -> Any:
    if isinstance(v, dict):
        return v[fld] if fld else v.get("value", v.get("say"))
    return v


def _fill(obj: Any, lookup) -> Any:
    if isinstance(obj, dict):
        return {k: _fill(v, lookup) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, lookup) for v in obj]
    if isinstance(obj, str):
        whole = SLOT_RE.fullmatch(obj)
        if whole:
            return lookup(whole.group(1), int(whole.group(2) or 1), whole.group(3))
        return SLOT_RE.sub(lambda m: str(lookup(m.group(1), int(m.group(2) or 1), m.group(3))), obj)
    return obj


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # swap neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:  # drop a letter
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]  # double a letter


def _transform(segments: list[tuple[str, bool]], probs: dict[str, float],
               rng: random.Random) -> list[tuple[str, bool]]:
    """Apply production-like noise to literal segments only; slot values stay verbatim."""
    on = {name for name, p in sorted(probs.items()) if rng.random() < p}
    out = []
    for text, literal in segments:
        if literal and text:
            if "lowercase" in on:
                text = text.lower()
            if "uppercase" in on:
                text = text.upper()
            if "strip_punct" in on:
                text = re.sub(r"[.,!?;]", "", text)
            if "typo" in on:
                words = text.split(" ")
                idx = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
                for i in rng.sample(idx, min(len(idx), 1 + rng.randrange(2))):
                    words[i] = _typo(words[i], rng)
                text = " ".join(words)
        out.append((text, literal))
    if "emoji" in on:
        emo = rng.choice(EMOJI)
        if rng.random() < 0.8:
            out.append((" " + emo, True))
        else:
            out.insert(0, (emo + " ", True))
    return out
