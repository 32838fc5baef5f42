"""The offline default teacher: rows rendered from the task's template grammar; costs nothing."""

from __future__ import annotations

import hashlib
import json
import math
import random
from typing import Any, get_args

from ..config import TemplateDraw
from ..spec import SpecError, TaskSpec
from ..templates import GENERATORS_VERSION, Grammar
from .base import Budget, Progress, Request, Response, RunStats


# How a request picks its template, pattern and values (teacher.template_draw):
#   indexed: one random generator per request index draws all three in turn. A template added to a quota
#            cell, or a pattern added to a template, shifts the draws of most rows there.
#   stable:  the template and the pattern are each chosen by weighted rendezvous hashing, keyed by the
#            request and the candidate's name (template id, pattern text), and the values by a generator
#            seeded with both. A new template or pattern takes only the rows it wins, about its share;
#            every other row is rendered exactly as before.
DRAWS = get_args(TemplateDraw)


def rendezvous(key: str, names: list[str], weights: list[float]) -> int:
    """Index of the winner among `names` for `key` by weighted rendezvous hashing: each name scores
    -ln(u)/w with u uniform in (0, 1) from sha256(key, name), and the lowest score wins. Name i wins with
    probability w_i / sum(w), and adding or removing a name changes only the keys that name wins or won."""
    best, best_score = 0, math.inf
    for i, (name, w) in enumerate(zip(names, weights)):
        if w <= 0:  # as with random.choices: a zero weight is never picked
            continue
        h = int.from_bytes(hashlib.sha256(f"{key}\x1f{name}".encode()).digest()[:8], "big")
        score = -math.log((h + 0.5) / 2**64) / w
        if score < best_score:
            best, best_score = i, score
    return best


def _pattern_names(patterns: list[str]) -> list[str]:
    """A name per pattern: its text, and for a repeated text its occurrence number, so a pattern written
    twice (to weigh double) is two candidates and inserting another pattern renames none."""
    seen: dict[str, int] = {}
    names = []
    for p in patterns:
        seen[p] = seen.get(p, 0) + 1
        names.append(p if seen[p] == 1 else f"{p}\x1f{seen[p]}")
    return names


class TemplateTeacher:
    """The offline default: renders rows from the spec's template grammar; costs nothing."""

    provider = "template"

    def __init__(self, spec: TaskSpec, seed: int, draw: str = "indexed", extras: list[str] | None = ()):
        if draw not in DRAWS:
            raise SpecError(f"teacher.template_draw must be one of {', '.join(DRAWS)}; got {draw!r}")
        self.spec = spec
        self.seed = seed
        self.draw = draw
        self.stats = RunStats()
        self.budget = Budget(limit=None, price_in=0.0, price_out=0.0)
        self.progress: Progress | None = None
        path = spec.templates_path()
        self.grammar = Grammar.load(path, extras)
        for category, difficulty, _ in spec.cells():
            if not self.grammar.candidates(category, difficulty):
                raise SpecError(f"{path}: no template for quota cell ({category}, {difficulty})")

    def identity(self) -> dict[str, Any]:
        ident = {"provider": self.provider, "grammar": self.grammar.digest, "seed": self.seed,
                 "generators": GENERATORS_VERSION}
        if self.draw != "indexed":  # the indexed identity stays as it was, so its cached rows stay valid
            ident["draw"] = self.draw
        return ident

    def prompt_for(self, request: Request) -> str:
        return f"template:{request.category}:{request.difficulty}:{request.data_type or '*'}"

    rows_per_request = 1

    def complete(self, requests: list[Request], on_response=None) -> list[Response]:
        out = []
        for r in requests:
            cands = self.grammar.candidates(r.category, None if r.data_type else r.difficulty, r.data_type)
            if not cands:  # a repair request for a combination the grammar lacks
                cands = self.grammar.candidates(r.category, r.difficulty)
            key = f"{self.seed}:{r.namespace}:{r.index}"
            if self.draw == "stable":
                template = cands[rendezvous(key, [t.id for t in cands], [t.weight for t in cands])]
                p_idx = rendezvous(f"{key}:{template.id}", _pattern_names(template.user), [1.0] * len(template.user))
                rng = random.Random(f"{key}:{template.id}:{template.user[p_idx]}")
                pair = self.grammar.render(template, rng, p_idx)
            else:
                rng = random.Random(key)
                template = rng.choices(cands, weights=[t.weight for t in cands])[0]
                pair = self.grammar.render(template, rng)
            resp = Response(text=json.dumps(pair, ensure_ascii=False), usage={}, stop_reason="end")
            self.stats.done += 1
            if on_response is not None:
                on_response(r, resp)
            out.append(resp)
        return out
