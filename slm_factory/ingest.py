"""Bring your own data: rows from other tools' files, mapped onto the task's row.

Input formats, detected per line and checked to agree within a file (or forced by `ingest.format`):
- `openai`: `{"messages": [...]}` chat fine-tuning rows; an assistant `tool_calls` entry becomes the
  task's JSON answer (`label_key`/`args_key` of task.yaml), as `formats.from_openai` reads it.
- `sharegpt`: `{"conversations": [{"from": "system"|"human"|"gpt", "value"}]}`.
- `alpaca`: `{"instruction", "input", "output"}`; the request is `input` (or `instruction` when `input`
  is empty): the factory's own Alpaca export puts the system prompt in `instruction`.
- `production`: a product's log, `{"input", "output", "correction"?}`: a user's correction, when
  present, is the label (the output it replaced is kept in the row's annotations).

Every imported row gets the task's system prompt (every row of a task shares one; an imported prompt
that differs is kept in the annotations), a category from its answer's label, and provenance: source
`human` (people wrote these requests, not the teacher), generator `import:<format>`, batch
`import_<file stem>`, and a group of its own (`import:<stem>:<original id or line>`), so split keeps a
conversation's rows together. Where it came from (file stem, line, format, original id) is in
`annotations["import"]`. The contract itself is checked by `validate`, like a generated row's.

A line that cannot become a row is rejected with a reason, never dropped: not JSON, no known format,
a format other than the file's, multi-turn (one row is one system/user/assistant exchange; multi-turn
traces are not imported yet), or an answer naming no category of the task.

Then, in the stage: personal data is masked (or the row rejected) by the privacy gate before anything
is written (`protect`), and production logs feed evals first (`route_production`): the first
`ingest.eval_quota` production rows that pass the contract gates become the locked eval set
`data/eval/production.jsonl` (dedupe and split keep train away from them and their near-duplicates;
eval scores them like golden), and only the rest go to training.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from .formats import FormatError, from_alpaca, from_openai, from_sharegpt
from .privacy import mask_obj, mask_text, privacy_gate
from .rows import Reason, Rejected, Row, make_row
from .spec import TaskSpec

INPUT_FORMATS = ("openai", "sharegpt", "alpaca", "production")


class MultiTurn(FormatError):
    """More than one assistant turn, or a tool message: not one system/user/assistant exchange."""


def detect_format(obj: dict) -> str | None:
    """The input format a parsed line looks like, or None."""
    if "messages" in obj:
        return "openai"
    if "conversations" in obj:
        return "sharegpt"
    if "instruction" in obj and "output" in obj:
        return "alpaca"
    if "input" in obj and "output" in obj:
        return "production"
    return None


@dataclass(frozen=True)
class IngestSettings:
    """`ingest:` in params.yaml, as the pure functions take it."""
    format: str  # auto | one of INPUT_FORMATS
    data_type: str
    difficulty: str


def _text(v: object) -> str:
    if not isinstance(v, str):
        raise FormatError(f"expected a string, got {type(v).__name__}")
    return v


def _exchange(obj: dict, fmt: str, spec: TaskSpec) -> tuple[str, str, str, dict]:
    """(system, user, assistant, extra annotations) of one parsed line in `fmt`."""
    if fmt == "openai":
        msgs = obj.get("messages")
        if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
            raise FormatError("'messages' must be a list of objects")
        if sum(1 for m in msgs if m.get("role") == "assistant") > 1 or any(m.get("role") == "tool" for m in msgs):
            raise MultiTurn()
        system, user, answer = from_openai(obj, spec.label_key, spec.args_key)
        return _text(system), _text(user), _text(answer), {}
    if fmt == "sharegpt":
        turns = obj.get("conversations")
        if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
            raise FormatError("'conversations' must be a list of objects")
        answers = [t for t in turns if t.get("from") in ("gpt", "function_call")]
        if len(answers) > 1 or any(t.get("from") in ("observation", "tool") for t in turns):
            raise MultiTurn()
        if answers and answers[0].get("from") == "function_call":
            # ShareGPT's function-call turn ({"name", "arguments"} as JSON text) is the task's JSON answer
            if not spec.args_key:
                raise FormatError("a function call, but the task names no args_key to map it to")
            call = json.loads(_text(answers[0].get("value")))
            args = call.get("arguments", {})
            args = json.loads(args) if isinstance(args, str) else args
            answer = TaskSpec.canonical({spec.label_key: call["name"], spec.args_key: args})
            turns = [t if t is not answers[0] else {"from": "gpt", "value": answer} for t in turns]
            obj = {**obj, "conversations": turns}
        system, user, answer = from_sharegpt(obj)
        return _text(system), _text(user), _text(answer), {}
    if fmt == "alpaca":
        instruction, user, answer = from_alpaca(obj)
        return _text(instruction) if user else "", _text(user or instruction), _text(answer), {}
    # production log: the user's correction, when there is one, is the right answer
    answer, extra = obj["output"], {}
    if obj.get("correction") not in (None, ""):
        extra = {"corrected_output": _text(obj["output"]) if isinstance(obj["output"], str) else obj["output"]}
        answer = obj["correction"]
    if not isinstance(answer, str):  # a log may hold the answer as an object
        answer = TaskSpec.canonical(answer)
    return "", _text(obj["input"]), answer, extra


def ingest_file(stem: str, lines: list[tuple[int, str]], spec: TaskSpec, cfg: IngestSettings
                ) -> tuple[list[Row], list[Rejected], str | None]:
    """One input file -> (rows, rejected, the file's format). Every line is one or the other.

    With `cfg.format: auto` the file's format is the one most of its parseable lines have (ties: the
    first seen); a line of another format is rejected (`format_mismatch`), so a file mixing formats
    says so line by line instead of importing half of it under the wrong reading."""
    batch = f"import_{stem}"
    parsed: list[tuple[int, str, dict | None, Reason | None]] = []
    for line_no, text in lines:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as e:
            parsed.append((line_no, text, None, Reason(code="json_invalid", message=f"line is not JSON: {str(e)[:120]}")))
            continue
        if not isinstance(obj, dict):
            parsed.append((line_no, text, None, Reason(code="json_invalid", message="line is JSON but not an object")))
            continue
        parsed.append((line_no, text, obj, None))
    if cfg.format == "auto":
        seen = Counter(f for _, _, o, _ in parsed if o is not None and (f := detect_format(o)))
        file_fmt = max(seen, key=lambda f: (seen[f], -list(seen).index(f))) if seen else None
    else:
        file_fmt = cfg.format
    categories = list(spec.quotas.get("categories") or {})
    rows: list[Row] = []
    rejected: list[Rejected] = []

    def reject(line_no: int, text: str, obj: dict | None, reason: Reason) -> None:
        rejected.append(Rejected(stage="ingest", batch=batch, line=line_no, reasons=[reason],
                                 row=obj, raw=None if obj is not None else text[:2000]))

    for line_no, text, obj, reason in parsed:
        if reason is not None or obj is None:
            reject(line_no, text, obj, reason)
            continue
        fmt = detect_format(obj)
        if fmt is None:
            reject(line_no, text, obj, Reason(code="unknown_format", message=(
                f"no known format: expected one of {', '.join(INPUT_FORMATS)} "
                "(keys messages / conversations / instruction+output / input+output)"),
                detail={"keys": sorted(obj)[:20]}))
            continue
        if fmt != file_fmt:
            reject(line_no, text, obj, Reason(code="format_mismatch", message=(
                f"line is {fmt} but the file is read as {file_fmt}"), detail={"line_format": fmt, "file_format": file_fmt}))
            continue
        try:
            system, user, answer, extra = _exchange(obj, fmt, spec)
        except MultiTurn:
            reject(line_no, text, obj, Reason(code="multi_turn", message=(
                "more than one assistant turn (or a tool message): a row is one system/user/assistant "
                "exchange; multi-turn traces are not imported yet")))
            continue
        except FormatError as e:
            reject(line_no, text, obj, Reason(code="unmappable", message=f"cannot read as {fmt}: {e}"))
            continue
        except (KeyError, TypeError, ValueError) as e:
            reject(line_no, text, obj, Reason(code="unmappable", message=f"cannot read as {fmt}: {type(e).__name__}: {e}"))
            continue
        try:
            label = spec.label_of(json.loads(answer))
        except ValueError:
            label = None
        if label not in categories:
            reject(line_no, text, obj, Reason(code="unknown_category", message=(
                f"the answer's {spec.label_key!r} names no category of the task ({', '.join(categories)})"),
                detail={"label": label}))
            continue
        original_id = obj.get("id") if isinstance(obj.get("id"), (str, int)) else None
        note = {"file": stem, "line": line_no, "format": fmt, **({"original_id": original_id} if original_id is not None else {})}
        if system and system.strip() != spec.system_prompt:
            note["system_prompt"] = system
        group = f"import:{stem}:{original_id if original_id is not None else line_no}"
        rows.append(make_row(spec.system_prompt, user, answer, {
            "category": label, "data_type": cfg.data_type, "difficulty": cfg.difficulty, "source": "human",
            "batch": batch, "group": group, "generator": f"import:{fmt}"}, **{"import": {**note, **extra}}))
    return rows, rejected, file_fmt


def _rejected_row(row: Row, reasons: list[Reason]) -> Rejected:
    """An imported row turned away after import, filed under its file and line."""
    return Rejected(stage="ingest", batch=row.provenance.batch, line=row.annotations.get("import", {}).get("line"),
                    row_id=row.id, reasons=reasons, row=row.model_dump(mode="json"))


def protect(rows: list[Row], rejected: list[Rejected], mode: str, allowed: frozenset[str], region: str
            ) -> tuple[list[Row], list[Rejected]]:
    """The privacy gate (slm_factory.privacy) on what ingest writes: rows masked (or, with
    `mode: reject`, turned into rejected records, themselves masked), and rejected records' raw lines
    and objects masked, so no personal data from data/raw reaches an output."""
    if mode == "off":
        return rows, rejected
    kept: list[Row] = []
    out = [r.model_copy(update={"row": mask_obj(r.row, mode, allowed, region),
                                "raw": mask_text(r.raw, mode, allowed, region) if r.raw else r.raw}) for r in rejected]
    for row in rows:
        masked, reasons = privacy_gate(row, mode, allowed, region)
        if reasons:
            out.append(_rejected_row(masked, reasons))
        else:
            kept.append(masked)
    return kept, out


def route_production(rows: list[Row], quota: int, gate) -> tuple[list[Row], list[Row], list[Rejected]]:
    """Production logs feed evals first: `(eval_rows, train_rows, rejected)`.

    Production rows (`generator: import:production`), in input order (file name, then line), fill the
    eval set until it holds `quota` rows; each must pass `gate(row) -> [Reason]` (the contract gates:
    an eval row with a broken answer would score the model against garbage), else it is rejected and
    the next one is tried. The rest, and every row of another format, go to training. Because the
    order is the files' order, appending lines to data/raw keeps the eval rows that were already there.
    """
    eval_rows: list[Row] = []
    train_rows: list[Row] = []
    rejected: list[Rejected] = []
    for row in rows:
        if row.provenance.generator != "import:production" or len(eval_rows) >= quota:
            train_rows.append(row)
            continue
        reasons = gate(row)
        if reasons:
            rejected.append(_rejected_row(row, reasons))
        else:
            eval_rows.append(row)
    return eval_rows, train_rows, rejected
