"""Turning teacher responses into rows (or rejections), shared by every provider."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .formats import tools_from_schema
from .rows import Provenance, Reason, Rejected, Row, make_row
from .spec import TaskSpec
from .teachers.base import Request, Response


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
