"""The LLM judge: scores each row on the task's rubric and applies its acceptance rule.

The rubric (dimensions, scale) and the accept rule (a minimum total, per-dimension minimums) are the
front matter of the task's `generation_prompts/judge.md`; a row is accepted when the judge said accept
and the scores meet the rule. Scores are saved on the row (annotations.judge); a failing row is rejected
with the judge's reason. Judge answers are cached like teacher responses, so a rerun pays nothing twice.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .rows import Reason, Row
from .spec import SpecError, TaskSpec
from .teachers.base import Request, ResponseCache, ask_cached, request_tag
from .teachers.factory import llm_teacher

class AcceptRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    total_at_least: int = 0
    minimum: dict[str, int] = Field(default_factory=dict)


class Rubric(BaseModel):
    """judge.md's front matter."""

    model_config = ConfigDict(extra="forbid")
    dimensions: list[str] = Field(min_length=1)
    scale: tuple[int, int] = (1, 5)
    accept: AcceptRule = Field(default_factory=AcceptRule)

    @model_validator(mode="after")
    def _known(self) -> "Rubric":
        unknown = sorted(set(self.accept.minimum) - set(self.dimensions))
        if unknown:
            raise ValueError(f"accept.minimum names dimensions not in the rubric: {unknown}")
        return self

    @classmethod
    def of(cls, spec: TaskSpec, name: str = "judge.md") -> "Rubric":
        meta, _ = spec.prompt_parts(name)
        try:
            return cls.model_validate(meta)
        except ValidationError as e:
            where = spec.root / "generation_prompts" / name
            raise SpecError(f"{where}: front matter: " + "; ".join(
                f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors(include_url=False))) from None


def acceptable(verdict: dict, rubric: Rubric) -> tuple[bool, str]:
    scores = verdict.get("scores") or {}
    try:
        values = {d: int(scores[d]) for d in rubric.dimensions}
    except (KeyError, TypeError, ValueError):
        return False, "judge answer lacks a score for every dimension"
    total = sum(values.values())
    top = rubric.scale[1] * len(rubric.dimensions)
    rule = total >= rubric.accept.total_at_least and all(values[d] >= m for d, m in rubric.accept.minimum.items())
    if verdict.get("decision") != "accept":
        return False, str(verdict.get("reason") or "judge rejected the row")
    if not rule:
        return False, f"scores fail the acceptance rule (total {total}/{top}): {verdict.get('reason', '')}".strip()
    return True, ""


class Judge:
    """The judge asks the LLM `judge:` names (any API the teachers speak) with the judge prompt."""

    def __init__(self, spec: TaskSpec, cfg: dict, seed: int, cache_dir: Path):
        self.spec, self.cache_dir = spec, cache_dir
        self.llm = llm_teacher(spec, {"rows_per_request": 1, "prompt": "judge.md", **cfg}, seed, cache_dir)
        self.llm.prompter = self.prompt_for
        self.rows: list[Row] = []
        self.rubric = Rubric.of(spec)

    def prompt_for(self, r: Request) -> str:
        row = self.rows[r.index]
        text = self.llm.template.replace("{task}", self.spec.raw.get("description") or self.spec.prompted_system_prompt)
        text = text.replace("{schema}", self.llm.schema_text)
        text = text.replace("{dimensions}", ", ".join(self.rubric.dimensions))
        text = text.replace("{scale_min}", str(self.rubric.scale[0])).replace("{scale_max}", str(self.rubric.scale[1]))
        text = text.replace("{row}", json.dumps({"user": row.user, "assistant": row.assistant}, ensure_ascii=False))
        return text + "\n" + request_tag(r) + "\n"

    def judge(self, rows: list[Row]) -> dict[str, tuple[dict | None, Reason | None]]:
        """{row id: (verdict, rejection reason or None)}; rows the judge could not answer are rejected."""
        self.rows = rows
        reqs = [Request("judge", i, r.provenance.category, r.provenance.difficulty) for i, r in enumerate(rows)]
        cache = ResponseCache(self.cache_dir)
        keys, answers, _ = ask_cached(self.llm, reqs, cache)
        cache.close()
        out = {}
        for key, row in zip(keys, rows):
            resp = answers[key]
            if resp is None:
                out[row.id] = (None, Reason(code="judge_error", message="the judge did not answer"))
                continue
            try:
                verdict = json.loads(resp.text.strip().strip("`").removeprefix("json").strip())
            except (ValueError, RecursionError):  # JSONDecodeError, huge integers, deep nesting
                verdict = None
            if not isinstance(verdict, dict):
                out[row.id] = (None, Reason(code="judge_error", message="judge answer is not a JSON object",
                                            detail={"raw": resp.text[:300]}))
                continue
            ok, why = acceptable(verdict, self.rubric)
            out[row.id] = (verdict, None if ok else Reason(code="judge_rejected", message=why,
                                                           detail={"scores": verdict.get("scores")}))
        return out
