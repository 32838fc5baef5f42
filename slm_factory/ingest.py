"""Bring your own data: rows from other tools' files, mapped onto the task's row.

Input formats, detected per line and checked to agree within a file (or forced by `ingest.format`):
- `openai`: `{"messages": [...]}` chat fine-tuning rows and agent traces (`{"id", "timestamp", "model",
  "messages", "tools"}`): user, assistant and `tool` messages; an assistant `tool_calls` entry (one
  call) becomes the task's JSON answer (`label_key`/`args_key` of task.yaml); `reasoning_content` is
  read.
- `sharegpt`: `{"conversations": [{"from": "system"|"human"|"gpt"|"function_call"|"observation", "value"}]}`.
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

A multi-turn conversation unrolls into one row per assistant turn, each with its history (earlier
turns and tool results; `annotations["import"]["turn"]` numbers it), all in the conversation's group.
Earlier assistant calls read as the task's JSON answers, so history looks like what the model says.
The tools a trace offered are kept in `annotations["import"]["tools"]`; the rows train on the task's
own catalog (a call outside it is rejected, below).
`ingest.reasoning` keeps reasoning on the learned turn only (`last`), on every turn (`all`) or on none
(`none`, for a contract whose answer is the JSON alone). Training puts the loss on the last turn.

A line, or one assistant turn of it, that cannot become a row is rejected with a reason (the turn
number in its detail), never dropped: not JSON, no known format, a format other than the file's, a
shape that cannot be read (unknown role, parallel tool calls, a tool message without a call before
it), or an answer naming no category of the task (a trace's plain-text reply, a tool outside the
catalog). So a line leaves as at least one row or rejected record, and each assistant turn as one.

Then, in the stage: personal data is masked (or the row rejected) by the privacy gate before anything
is written (`protect`), and production logs feed evals first (`route_production`): the first
`ingest.eval_quota` production rows that pass the contract gates become the locked eval set
`data/eval/production.jsonl` (dedupe and split keep train away from them and their near-duplicates;
eval scores them like golden), and only the rest go to training.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .formats import FormatError, from_alpaca
from .gates import LeakCheck, check_row
from .ledger import RowsLost
from .privacy import mask_obj, mask_text, privacy_gate
from .rows import Message, Reason, Rejected, Row, conversation_row, iter_jsonl_raw, role_problem
from .spec import TaskSpec

log = logging.getLogger("slm_factory.ingest")

INPUT_FORMATS = ("openai", "sharegpt", "alpaca", "production")


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
    reasoning: str = "none"  # which assistant turns keep their reasoning: last | all | none (see unroll)


def _text(v: object) -> str:
    if not isinstance(v, str):
        raise FormatError(f"expected a string, got {type(v).__name__}")
    return v


def _call_answer(name: object, arguments: object, spec: TaskSpec) -> str:
    """A native tool call ({name, arguments as JSON text or object}) as the task's JSON answer."""
    if not (spec.label_key and spec.args_key):
        raise FormatError("a tool call, but the task names no label_key/args_key to map it to")
    args = json.loads(arguments) if isinstance(arguments, str) else arguments
    if not isinstance(args, dict):
        raise FormatError("a tool call's arguments must be a JSON object")
    return TaskSpec.canonical({spec.label_key: _text(name), spec.args_key: args})


OPENAI_ROLE_MAP = {"user": "user", "assistant": "assistant", "tool": "tool"}
SHAREGPT_ROLE_MAP = {"human": "user", "gpt": "assistant", "function_call": "assistant", "observation": "tool",
                  "tool": "tool"}


def _conversation(obj: dict, fmt: str, spec: TaskSpec) -> tuple[str, list[Message], dict]:
    """(system prompt, turns, extra annotations) of one parsed line in `fmt`.

    Turns are user, assistant and tool messages in order; an assistant's native tool call (OpenAI
    `tool_calls`, ShareGPT `function_call`) is written as the task's JSON answer, so a trace's history
    reads exactly like the answers the model learns; an assistant's `reasoning_content` is kept on its
    turn (`ingest.reasoning` decides later which turns keep it)."""
    if fmt in ("openai", "sharegpt"):
        key, role_key, text_key, roles = (("messages", "role", "content", OPENAI_ROLE_MAP) if fmt == "openai"
                                          else ("conversations", "from", "value", SHAREGPT_ROLE_MAP))
        msgs = obj.get(key)
        if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
            raise FormatError(f"{key!r} must be a list of objects")
        system, turns = "", []
        for i, m in enumerate(msgs):
            who = m.get(role_key)
            if who == "system":
                if i:
                    raise FormatError("a system message after the first")
                system = _text(m.get(text_key))
                continue
            if who not in roles:
                raise FormatError(f"unknown {role_key} {who!r} (known: system, {', '.join(roles)})")
            reasoning = m.get("reasoning_content")
            if fmt == "openai" and m.get("tool_calls"):
                calls = m["tool_calls"]
                if len(calls) != 1:
                    raise FormatError(f"{len(calls)} tool calls in one turn: the task's answer is one call")
                content = _call_answer(calls[0]["function"]["name"], calls[0]["function"]["arguments"], spec)
            elif who == "function_call":
                call = json.loads(_text(m.get(text_key)))
                content = _call_answer(call["name"], call.get("arguments", {}), spec)
            else:
                content = _text(m.get(text_key))
            turns.append(Message(role=roles[who], content=content,
                                 reasoning=_text(reasoning) if reasoning not in (None, "") and roles[who] == "assistant" else None))
        return system, turns, {}
    if fmt == "alpaca":
        instruction, user, answer = from_alpaca(obj)
        system, user = (_text(instruction), _text(user)) if user else ("", _text(instruction))
        return system, [Message(role="user", content=user), Message(role="assistant", content=_text(answer))], {}
    # production log: the user's correction, when there is one, is the right answer
    answer, extra = obj["output"], {}
    if obj.get("correction") not in (None, ""):
        extra = {"corrected_output": _text(obj["output"]) if isinstance(obj["output"], str) else obj["output"]}
        answer = obj["correction"]
    if not isinstance(answer, str):  # a log may hold the answer as an object
        answer = TaskSpec.canonical(answer)
    return "", [Message(role="user", content=_text(obj["input"])), Message(role="assistant", content=answer)], extra


def unroll(turns: list[Message], reasoning: str) -> list[tuple[int, list[Message]]]:
    """One example per assistant turn: `(turn number, messages up to and including it)`, turn numbers
    counting assistant turns from 1. Turns before the first user message (a greeting the product
    opens with) are left out of later examples' history; an assistant turn among them, or any example
    whose messages are no row, is the caller's to reject. `reasoning` says which assistant
    turns keep theirs: `last` only the turn the example teaches (as Qwen's chat template renders
    reasoning only after the last user turn), `all` every one, `none` no turn."""
    out, n = [], 0
    first_user = next((i for i, t in enumerate(turns) if t.role == "user"), len(turns))
    for i, m in enumerate(turns):
        if m.role != "assistant":
            continue
        n += 1
        start = first_user if first_user < i else 0
        msgs = [t if t.role != "assistant" or reasoning == "all" or (reasoning == "last" and j == i)
                else t.model_copy(update={"reasoning": None}) for j, t in enumerate(turns[:i + 1]) if j >= start]
        out.append((n, msgs))
    return out


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

    def reject(line_no: int, text: str, obj: dict | None, reason: Reason, turn: int | None = None) -> None:
        if turn is not None:  # one assistant turn of the line, not the whole line
            reason = reason.model_copy(update={"detail": {**reason.detail, "turn": turn}})
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
            system, turns, extra = _conversation(obj, fmt, spec)
        except FormatError as e:
            reject(line_no, text, obj, Reason(code="unmappable", message=f"cannot read as {fmt}: {e}"))
            continue
        except (KeyError, TypeError, ValueError) as e:
            reject(line_no, text, obj, Reason(code="unmappable", message=f"cannot read as {fmt}: {type(e).__name__}: {e}"))
            continue
        examples = unroll(turns, cfg.reasoning)
        if not examples:
            reject(line_no, text, obj, Reason(code="unmappable", message="no assistant turn: nothing to learn"))
            continue
        original_id = obj.get("id") if isinstance(obj.get("id"), (str, int)) else None
        multi = len(examples) > 1
        # the tools a trace offered, for the record: the model is trained on the task's own catalog
        offered = sorted({t["function"]["name"] for t in obj.get("tools") or []
                          if isinstance(t, dict) and isinstance(t.get("function"), dict)
                          and isinstance(t["function"].get("name"), str)})
        for turn, msgs in examples:
            at = turn if multi else None
            problem = role_problem(["system"] + [m.role for m in msgs])
            if problem:
                reject(line_no, text, obj, Reason(code="unmappable", message=f"cannot read as {fmt}: {problem}"), at)
                continue
            answer = msgs[-1].content
            try:
                label = spec.label_of(json.loads(answer))
            except ValueError:
                label = None
            if label not in categories:
                reject(line_no, text, obj, Reason(code="unknown_category", message=(
                    f"the answer's {spec.label_key!r} names no category of the task ({', '.join(categories)})"),
                    detail={"label": label}), at)
                continue
            note = {"file": stem, "line": line_no, "format": fmt,
                    **({"original_id": original_id} if original_id is not None else {}),
                    **({"turn": turn} if multi else {}), **({"tools": offered} if offered else {})}
            if system and system.strip() != spec.system_prompt:
                note["system_prompt"] = system
            # every row of one conversation shares its group, so split keeps a trace's rows together
            group = f"import:{stem}:{original_id if original_id is not None else line_no}"
            rows.append(conversation_row([Message(role="system", content=spec.system_prompt), *msgs], {
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


@dataclass
class Imported:
    """What the ingest stage writes: training rows per input file (by stem; a file with none still
    gets its empty part), the production eval rows, every rejection, and the figures."""
    train: dict[str, list[Row]]
    eval_rows: list[Row]
    rejected: list[Rejected]
    metrics: dict


def import_files(files: list[Path], spec: TaskSpec, settings: IngestSettings, *, max_line_bytes: int, pii: str,
                 pii_region: str, eval_quota: int, min_user_chars: int) -> Imported:
    """The ingest stage: each file's lines read (a line over `max_line_bytes` rejected unread), turned
    into rows (`ingest_file`), passed through the privacy gate (`protect`), then production rows fill
    the eval set up to `eval_quota` (`route_production`, gated like validate's rows) and the rest train.
    Every example leaves as a training row, an eval row or a rejected record (RowsLost otherwise)."""
    rejected: list[Rejected] = []
    n_input = n_examples = 0
    by_file: dict[str, dict] = {}
    by_format: Counter = Counter()
    per_file: list[tuple[str, list[Row]]] = []
    for f in files:
        lines, too_long = [], []
        for line_no, text in iter_jsonl_raw(f):
            if len(text.encode("utf-8", "surrogatepass")) > max_line_bytes:
                too_long.append(Rejected(stage="ingest", batch=f"import_{f.stem}", line=line_no, raw=text[:2000],
                                         reasons=[Reason(code="line_too_long", message=(
                                             f"line over ingest.max_line_bytes ({max_line_bytes})"),
                                             detail={"chars": len(text)})]))
            else:
                lines.append((line_no, text))
        rows, rej, fmt = ingest_file(f.stem, lines, spec, settings)
        n_examples += len(rows) + len(rej) + len(too_long)
        rows, rej = protect(rows, too_long + rej, pii, spec.pii_allowed, pii_region)
        rej = sorted(rej, key=lambda r: r.line or 0)
        per_file.append((f.stem, rows))
        rejected += rej
        n_input += len(lines) + len(too_long)
        by_file[f.stem] = {"format": fmt, "input": len(lines) + len(too_long), "examples": len(rows) + len(rej),
                           "rows": len(rows), "rejected": len(rej)}
        by_format[fmt or "none"] += len(rows)
        log.info("%s: %s, %d lines -> %d rows, %d rejected", f.name, fmt, len(lines) + len(too_long), len(rows),
                 len(rej))
    leak = LeakCheck(spec.leak_patterns)
    eval_rows, train_rows, eval_rej = route_production(
        [r for _, rows in per_file for r in rows], eval_quota, lambda r: check_row(r, spec, leak, min_user_chars))
    train: dict[str, list[Row]] = {}
    for stem, _ in per_file:
        train[stem] = [r for r in train_rows if r.provenance.batch == f"import_{stem}"]
        by_file[stem].update(imported=len(train[stem]),
                             eval=sum(1 for r in eval_rows if r.provenance.batch == f"import_{stem}"))
    for r in eval_rej:  # a production row the contract gates kept out of the eval set
        by_file[r.batch.removeprefix("import_")]["rejected"] += 1
    rejected += eval_rej
    n_rows = sum(len(v) for v in train.values())
    if n_examples != n_rows + len(eval_rows) + len(rejected):
        raise RowsLost(f"ingest: examples {n_examples} != {n_rows} imported + {len(eval_rows)} eval + "
                       f"{len(rejected)} rejected")
    metrics = {
        "input": n_input, "examples": n_examples, "imported": n_rows, "eval": len(eval_rows),
        "rejected": len(rejected), "files": len(files), "eval_quota": eval_quota,
        "imported_by_format": dict(sorted(by_format.items())),
        "rejected_by_reason": dict(sorted(Counter(x.code for r in rejected for x in r.reasons).items())),
        "pii_masked_rows": sum(1 for _, rows in per_file for r in rows if "pii_masked" in r.annotations),
        "by_file": by_file}
    return Imported(train=train, eval_rows=eval_rows, rejected=rejected, metrics=metrics)
