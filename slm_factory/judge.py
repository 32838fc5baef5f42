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

from .config import Judge as JudgeConfig
from .gates import loads_strict
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


def _plain(text: str, limit: int = 500) -> str:
    """Text that any writer accepts: lone surrogates replaced, cut to `limit` characters."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8")


def read_verdict(text: str, rubric: Rubric) -> tuple[dict | None, Reason | None]:
    """One judge answer -> (the verdict kept on the row, the rejection reason or None). Never raises.

    The answer must be a JSON object with `decision` accept|reject and an integer score within the
    rubric's scale for every dimension; anything else is `judge_error` (the judge failed, the row did
    not). The verdict kept is rebuilt from those checked parts and the judge's `reason` as plain text,
    so nothing a judge writes can make a row unwritable downstream."""
    try:
        obj = loads_strict(text.strip().strip("`").removeprefix("json").strip())
    except (ValueError, RecursionError):  # not JSON, NaN/Infinity, huge integers, deep nesting
        obj = None
    if not isinstance(obj, dict):
        return None, Reason(code="judge_error", message="judge answer is not a JSON object",
                            detail={"raw": _plain(text, 300)})
    decision, scores = obj.get("decision"), obj.get("scores")
    if decision not in ("accept", "reject"):
        return None, Reason(code="judge_error", message="judge answer has no decision (accept or reject)",
                            detail={"raw": _plain(text, 300)})
    lo, hi = rubric.scale
    values = {}
    for d in rubric.dimensions:
        v = scores.get(d) if isinstance(scores, dict) else None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
            break
        if not lo <= v <= hi:
            break
        values[d] = int(v)
    if len(values) != len(rubric.dimensions):
        return None, Reason(code="judge_error",
                            message=f"judge answer lacks an integer score in {lo}..{hi} for every dimension",
                            detail={"raw": _plain(text, 300)})
    verdict = {"decision": decision, "scores": values, "reason": _plain(str(obj.get("reason") or ""))}
    total, top = sum(values.values()), hi * len(values)
    if decision != "accept":
        why = verdict["reason"] or "judge rejected the row"
    elif total < rubric.accept.total_at_least or any(values[d] < m for d, m in rubric.accept.minimum.items()):
        why = f"scores fail the acceptance rule (total {total}/{top}): {verdict['reason']}".strip()
    else:
        return verdict, None
    return verdict, Reason(code="judge_rejected", message=why, detail={"scores": values})


class Judge:
    """The judge asks the LLM `judge:` names (any API the teachers speak) with the judge prompt."""

    def __init__(self, spec: TaskSpec, cfg: JudgeConfig, seed: int, cache_dir: Path):
        self.spec, self.cache_dir = spec, cache_dir
        self.llm = llm_teacher(spec, cfg.teacher(), seed, cache_dir, prompt="judge.md")
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
            out[row.id] = read_verdict(resp.text, self.rubric)
        return out
