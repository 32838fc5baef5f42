"""Turning teacher responses into rows (or rejections), shared by every provider."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .common import read_json
from .config import Params
from .formats import tools_from_schema
from .ledger import Ledger
from .rows import Provenance, Reason, Rejected, Row, make_row
from .spec import TaskSpec
from .teachers.base import Request, ResponseCache, Response, ask_cached, plan_requests
from .teachers.factory import make_teacher

HEADLINE = ["rows", "rejected", "cost_usd"]  # the declared metrics; the rest: --details
# What this run asked and found cached: it differs between two runs that write the same data, so it
# goes to --timings, which no stage reads (a stage depending on it would rerun for nothing).
RUN_FACTS = ("requests", "cache_hits", "teacher_calls")
log = logging.getLogger("slm_factory.generate")  # the stage script gives it its handler (common.get_logger)


def batch_name(request: Request, batch_size: int) -> str:
    prefix = "batch" if request.namespace == "main" else request.namespace
    return f"{prefix}_{request.index // batch_size + 1:03d}"


def _objects(text: str) -> list[Any]:
    """A response holds one JSON object, or JSONL (one object per line)."""
    text = text.strip()
    if text.startswith("```"):  # tolerate a fenced block around JSONL
        text = text.strip("`").split("\n", 1)[-1]
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def response_to_rows(response: Response, request: Request, spec: TaskSpec, batch: str,
                     generator: str, source: str) -> tuple[list[Row], list[Rejected]]:
    """Parse a teacher response. Truncated, unparseable or refused output is rejected with the raw
    text kept, never silently dropped."""
    def reject(code: str, message: str) -> tuple[list[Row], list[Rejected]]:
        return [], [Rejected(stage="generate", batch=batch, reasons=[Reason(
            code=code, message=message, detail={"request": f"{request.namespace}:{request.index}"})],
            raw=response.text)]

    if response.stop_reason == "max_tokens":
        return reject("teacher_truncated", "the teacher stopped at max_tokens; output is incomplete")
    if response.stop_reason == "refusal":
        return reject("teacher_refused", "the teacher refused the request")
    try:
        objs = _objects(response.text)
    except json.JSONDecodeError as e:
        return reject("teacher_unparseable", f"teacher output is not JSON/JSONL: {e.msg}")
    except (ValueError, RecursionError) as e:  # a huge integer, nesting deeper than the parser goes
        return reject("teacher_unparseable", f"teacher output cannot be parsed: {type(e).__name__}: {str(e)[:120]}")
    if not objs:  # an empty answer is still an answer: it is rejected, never silently dropped
        return reject("teacher_unparseable", "teacher output is empty")
    rows, rejected = [], []
    for k, obj in enumerate(objs):
        if not isinstance(obj, dict) or "user" not in obj or ("output" not in obj and "assistant" not in obj):
            rejected.append(Rejected(stage="generate", batch=batch, raw=json.dumps(obj, ensure_ascii=False),
                                     reasons=[Reason(code="teacher_unparseable",
                                                     message="expected an object with 'user' and 'output'")]))
            continue
        out = obj.get("output", obj.get("assistant"))
        assistant = out if isinstance(out, str) else spec.canonical(out)
        prov = Provenance(
            category=request.category, difficulty=request.difficulty,
            data_type=str(obj.get("data_type") or request.data_type or "unspecified"),
            source=source, batch=batch, generator=generator,
            group=str(obj.get("group") or f"{request.namespace}:{request.index}:{k}"),
        )
        rows.append(make_row(spec.system_prompt, str(obj["user"]), assistant, prov))
    return rows, rejected


def native_tools_labeller(spec: TaskSpec):
    """`teacher.mode: native_tools`: an async (teacher, response) -> response that relabels the
    teacher's rows with the endpoint's own tool calls. Each row's request is sent under the task's
    system prompt with the catalog as `tools`; the call becomes the answer as the task's JSON
    (`label_key`/`args_key`), no call becomes the negative label (or, for a task without one, the
    text, which validate then judges). A failed response is passed on unchanged, so generate rejects
    it with its reason."""
    tools = tools_from_schema(spec.json_schema(), spec.label_key, spec.args_key, spec.negative_label)

    async def relabel(teacher, resp: Response) -> Response:
        if resp.stop_reason != "end":
            return resp
        try:
            objs = _objects(resp.text)
        except json.JSONDecodeError:
            return resp
        # an object without a request is passed on as it is, for response_to_rows to reject with its reason
        asks = [o for o in objs if isinstance(o, dict) and "user" in o]
        lines = [json.dumps(o, ensure_ascii=False) for o in objs if not (isinstance(o, dict) and "user" in o)]
        calls = await asyncio.gather(*(teacher.tool_call(spec.system_prompt, str(o["user"]), tools) for o in asks))
        usage = dict(resp.usage)
        for o, (call, text, u) in zip(asks, calls):
            for k in ("input_tokens", "output_tokens"):
                usage[k] = usage.get(k, 0) + u.get(k, 0)
            if call is not None:
                answer: Any = {spec.label_key: call["name"], spec.args_key: call["arguments"]}
            elif spec.negative_label:
                answer = {spec.label_key: spec.negative_label, spec.args_key: {}}
            else:
                answer = text
            keep = {k: v for k, v in o.items() if k not in ("output", "assistant")}
            lines.append(json.dumps({**keep, "output": answer}, ensure_ascii=False))
        return Response(text="\n".join(lines), stop_reason="end", usage=usage)

    return relabel


def generate(params: Params, specs: Path, repair_plan: Path | None, cache_dir: Path, out: Path,
             rejected_path: Path) -> dict:
    """The generate stage: plan the requests (quota cells, plus the repair plan's when `repair`), take
    what the response cache holds, ask the teacher for the rest (each answer cached as it arrives), and
    write every answer's rows by batch into `out` and its rejections into `rejected_path`. Returns the
    stage's figures (RUN_FACTS among them: what this run asked, which the caller keeps apart)."""
    spec = TaskSpec.load(specs)
    teacher = make_teacher(spec, params.teacher, params.seed, cache_dir)  # fails here on a missing API key
    if params.teacher.mode == "native_tools":
        teacher.relabel = native_tools_labeller(spec)
    plan_items = []
    if params.repair and repair_plan and repair_plan.exists():
        plan_items = read_json(repair_plan).get("items", [])
    per = int(teacher.rows_per_request)
    requests = plan_requests(spec, math.ceil(params.n_examples / per),
                             [{**i, "n": math.ceil(int(i["n"]) / per)} for i in plan_items])
    identity = teacher.identity()

    def ask_with_progress(missing, on_response) -> None:
        log.info("%d requests: %d cached, %d to ask %s", len(requests), len(requests) - len(missing),
                 len(missing), teacher.provider)
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} {task.fields[info]}"), TimeElapsedColumn(),
                      console=Console(stderr=True), disable=teacher.provider == "template") as bar:
            task = bar.add_task("generate", total=len(missing), info="")
            teacher.progress = lambda st, budget: bar.update(
                task, completed=st.done + st.failed + st.skipped,
                info=f"failed {st.failed} · tokens {st.input_tokens + st.output_tokens} · ${budget.spent:.4f}")
            teacher.complete(missing, on_response)

    cache = ResponseCache(cache_dir)
    keys, responses, missing = ask_cached(teacher, requests, cache, ask_with_progress)
    cache.close()
    if not missing:
        log.info("%d requests: %d cached, 0 to ask %s", len(requests), len(requests), teacher.provider)
    stats = teacher.stats  # failures and skips of this run's requests (all zero when nothing was asked)

    batch_size = params.generate.batch_size
    source = "template" if teacher.provider == "template" else "teacher"
    generator = identity.get("model") or teacher.provider
    ledger = Ledger("generate")  # every item of every answer leaves as a row or a rejected record
    for r, k in zip(requests, keys):
        b = batch_name(r, batch_size)
        if responses[k] is None:
            continue  # not answered (error after retries, or the budget stopped it): asked again next run
        rows, rej = response_to_rows(responses[k], r, spec, b, str(generator), source)
        for row in rows:
            ledger.keep(row, b)
        for rec in rej:
            ledger.reject(rec)
    for err in stats.errors:
        ledger.reject(Rejected(stage="generate", batch="errors", reasons=[Reason(
            code="teacher_error", message="request failed after the SDK's retries", detail={"error": err})]))
    ledger.write(out, rejected_path, kept_by_part=True)
    all_rows, batches = ledger.kept_rows(), ledger.kept_parts()
    rejected = ledger.rejected_records()
    usage = Counter()
    for k in keys:
        if responses[k] is not None:
            usage.update(responses[k].usage)
    budget = teacher.budget
    cost = budget.cost(dict(usage))
    unanswered = sum(1 for k in keys if responses[k] is None)
    if budget.exhausted:
        log.warning("stopped at the budget: teacher.max_cost_usd=%s, spent $%.4f; %d requests not sent. "
                    "Every row already paid for is kept; raise the budget and rerun to continue.",
                    budget.limit, cost, unanswered)
    metrics = {
        "requests": len(requests),
        "cache_hits": len(requests) - len(missing),
        "teacher_calls": len(missing) - stats.skipped,
        "unanswered": unanswered,
        "rows": len(all_rows),
        "rejected": len(rejected),
        "batches": len(batches),
        "input_tokens": usage.get("input_tokens", 0),
        "output_tokens": usage.get("output_tokens", 0),
        "cost_usd": round(cost, 6),
        "budget_exhausted": budget.exhausted,
        "by_category": dict(sorted(Counter(r.provenance.category for r in all_rows).items())),
        "by_data_type": dict(sorted(Counter(r.provenance.data_type for r in all_rows).items())),
    }
    if teacher.provider == "template":  # what teacher.template_extras resolved to (null: the grammar's defaults)
        metrics["template_extras"] = list(teacher.grammar.extras)
    log.info("wrote %d rows in %d batches, %d rejected, $%.4f", len(all_rows), len(batches), len(rejected), cost)
    return metrics
