"""The offline default teacher: rows rendered from the task's template grammar; costs nothing."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import yaml

from ..spec import SpecError, TaskSpec
from ..templates import GENERATORS_VERSION, Grammar
from .base import Budget, Progress, Request, Response, RunStats


class TemplateTeacher:
    """The offline default: renders rows from the spec's template grammar; costs nothing."""

    provider = "template"

    def __init__(self, spec: TaskSpec, seed: int):
        self.spec = spec
        self.seed = seed
        self.stats = RunStats()
        self.budget = Budget(limit=None, price_in=0.0, price_out=0.0)
        self.progress: Progress | None = None
        path = spec.templates_path()
        self.grammar = Grammar.load(path)
        # The parsed grammar, not the file's bytes: a comment or a reformat changes no answer, so it
        # must not miss the cache.
        self.grammar_hash = hashlib.sha256(json.dumps(yaml.safe_load(path.read_text()), sort_keys=True,
                                                      ensure_ascii=False).encode()).hexdigest()[:16]
        for category, difficulty, _ in spec.cells():
            if not self.grammar.candidates(category, difficulty):
                raise SpecError(f"{path}: no template for quota cell ({category}, {difficulty})")

    def identity(self) -> dict[str, Any]:
        return {"provider": self.provider, "grammar": self.grammar_hash, "seed": self.seed,
                "generators": GENERATORS_VERSION}

    def prompt_for(self, request: Request) -> str:
        return f"template:{request.category}:{request.difficulty}:{request.data_type or '*'}"

    rows_per_request = 1

    def complete(self, requests: list[Request], on_response=None) -> list[Response]:
        out = []
        for r in requests:
            rng = random.Random(f"{self.seed}:{r.namespace}:{r.index}")
            cands = self.grammar.candidates(r.category, None if r.data_type else r.difficulty, r.data_type)
            if not cands:  # a repair request for a combination the grammar lacks
                cands = self.grammar.candidates(r.category, r.difficulty)
            template = rng.choices(cands, weights=[t.weight for t in cands])[0]
            pair = self.grammar.render(template, rng)
            resp = Response(text=json.dumps(pair, ensure_ascii=False), usage={}, stop_reason="end")
            self.stats.done += 1
            if on_response is not None:
                on_response(r, resp)
            out.append(resp)
        return out
