"""The LLM judge: scores each row on the reference rubric and applies its acceptance rule.

accept if total >= 26/35 and correctness >= 4 and format == 5 and safety >= 4 (and the judge said
accept). Scores are saved on the row (annotations.judge); a failing row is rejected with the judge's
reason. Judge answers are cached like teacher responses, so a rerun pays nothing twice.
"""

from __future__ import annotations

import json
from pathlib import Path

from .providers import LLMTeacher
from .rows import Reason, Row
from .spec import TaskSpec
from .teacher import Request, ResponseCache, ask_cached

DIMENSIONS = ["realism", "correctness", "format", "difficulty", "diversity", "learnability", "safety"]


def acceptable(verdict: dict) -> tuple[bool, str]:
    scores = verdict.get("scores") or {}
    try:
        total = sum(int(scores[d]) for d in DIMENSIONS)
    except (KeyError, TypeError, ValueError):
        return False, "judge answer lacks a score for every dimension"
    rule = total >= 26 and int(scores["correctness"]) >= 4 and int(scores["format"]) == 5 and int(scores["safety"]) >= 4
    if verdict.get("decision") != "accept":
        return False, str(verdict.get("reason") or "judge rejected the row")
    if not rule:
        return False, f"scores fail the acceptance rule (total {total}/35): {verdict.get('reason', '')}".strip()
    return True, ""


class Judge(LLMTeacher):
    def __init__(self, spec: TaskSpec, cfg: dict, seed: int, cache_dir: Path):
        super().__init__(spec, {"rows_per_request": 1, "prompt": "judge.md", **cfg}, seed, cache_dir)
        self.rows: list[Row] = []

    def prompt_for(self, r: Request) -> str:
        row = self.rows[r.index]
        text = self.template.replace("{task}", self.spec.raw.get("description") or self.spec.prompted_system_prompt)
        text = text.replace("{schema}", self.schema_text)
        text = text.replace("{row}", json.dumps({"user": row.user, "assistant": row.assistant}, ensure_ascii=False))
        return text + f"\n(request judge-{r.index})\n"

    def judge(self, rows: list[Row]) -> dict[str, tuple[dict | None, Reason | None]]:
        """{row id: (verdict, rejection reason or None)}; rows the judge could not answer are rejected."""
        self.rows = rows
        reqs = [Request("judge", i, r.provenance.category, r.provenance.difficulty) for i, r in enumerate(rows)]
        cache = ResponseCache(self.cache_dir)
        keys, answers, _ = ask_cached(self, reqs, cache)
        cache.close()
        out = {}
        for key, row in zip(keys, rows):
            resp = answers[key]
            if resp is None:
                out[row.id] = (None, Reason(code="judge_error", message="the judge did not answer"))
                continue
            try:
                verdict = json.loads(resp.text.strip().strip("`").removeprefix("json").strip())
            except json.JSONDecodeError:
                out[row.id] = (None, Reason(code="judge_error", message="judge answer is not JSON",
                                            detail={"raw": resp.text[:300]}))
                continue
            ok, why = acceptable(verdict)
            out[row.id] = (verdict, None if ok else Reason(code="judge_rejected", message=why,
                                                           detail={"scores": verdict.get("scores")}))
        return out
