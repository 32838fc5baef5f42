"""The one row type that flows through every data stage, and its JSONL I/O.

A `Row` is an OpenAI-style chat example plus provenance: a system prompt, the conversation so far, and
the assistant turn the model learns (the last message). Most rows are one exchange (system, user,
assistant); an imported multi-turn trace unrolls into one row per assistant turn, each holding its
history: earlier user and assistant turns and `tool` messages (a tool's result). Training puts the loss
on the last assistant turn only. Its `id` is derived from the messages alone, so the same content always
gets the same id, whatever generated it.
A `Rejected` record wraps a row (or the raw text that could not become one) with machine-readable
reasons; every stage that drops something writes one of these.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer, model_validator

from .common import temp_beside

Role = Literal["system", "user", "assistant", "tool"]
Source = Literal["template", "teacher", "human"]


class Message(BaseModel):
    """One chat message. `reasoning` is an assistant turn's reasoning (OpenAI-style `reasoning_content`),
    kept only where `ingest.reasoning` says; it is written only when set, so rows without it read as before."""

    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str
    reasoning: str | None = None

    @model_serializer(mode="wrap")
    def _omit_unset_reasoning(self, handler):
        out = handler(self)
        if out.get("reasoning") is None:
            out.pop("reasoning", None)
        return out

    def chat(self) -> dict:
        """The message as a chat template takes it (a template that renders reasoning reads
        `reasoning_content`, as Qwen's does; others ignore the key)."""
        return {"role": self.role, "content": self.content,
                **({"reasoning_content": self.reasoning} if self.reasoning is not None else {})}


class Provenance(BaseModel):
    """Where a row came from. `group` is the template/scenario key that split keeps together."""

    model_config = ConfigDict(extra="forbid")
    category: str
    data_type: str
    difficulty: str
    source: Source
    batch: str
    group: str
    generator: str = ""  # e.g. "template" or "anthropic:claude-..."; informational


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    messages: list[Message]
    provenance: Provenance
    # Free-form annotations added by later gates (judge scores, review notes); never part of the id.
    annotations: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _roles_and_id(self) -> "Row":
        roles = [m.role for m in self.messages]
        problem = role_problem(roles)
        if problem:
            raise ValueError(f"{problem}; got {roles}")
        expected = content_id(self.messages)
        if self.id != expected:
            raise ValueError(f"id {self.id!r} does not match the content hash {expected!r}")
        return self

    @property
    def system(self) -> str:
        return self.messages[0].content

    @property
    def user(self) -> str:
        """The last user message: the request the final assistant turn answers."""
        return next(m.content for m in reversed(self.messages) if m.role == "user")

    @property
    def requests(self) -> str:
        """Every user turn before the learned answer, one per line: what a copied value may be copied from."""
        return "\n".join(m.content for m in self.messages[:-1] if m.role == "user")

    @property
    def assistant(self) -> str:
        """The assistant turn the model learns: the last message."""
        return self.messages[-1].content

    @property
    def history(self) -> list[Message]:
        """Turns between the system prompt and the last user message ([] for a single exchange)."""
        last_user = max(i for i, m in enumerate(self.messages) if m.role == "user")
        return self.messages[1:last_user]

    @property
    def prompt(self) -> list[dict]:
        """Every message before the learned turn, as a chat template takes them."""
        return [m.chat() for m in self.messages[:-1]]

    @property
    def prompt_text(self) -> str:
        """The text a near-duplicate check compares: the user message alone for a single exchange (so a
        single-turn row reads as it always did), the whole conversation before the answer otherwise,
        so two follow-ups that read the same ("yes, do it") in different conversations stay apart."""
        turns = self.messages[1:-1]
        if len(turns) == 1:
            return turns[0].content
        return "\n".join(f"{m.role}: {m.content}" for m in turns)


def role_problem(roles: list[str]) -> str | None:
    """Why a role sequence is not a row ("" when it is one): a system prompt first, then a user turn,
    any mix of user, assistant and tool turns (a tool message answers an assistant's call), and an
    assistant turn last."""
    if len(roles) < 3 or roles[0] != "system" or roles[1] != "user" or roles[-1] != "assistant":
        return "messages must be a system prompt, a user turn, ..., and an assistant turn last"
    if "system" in roles[1:]:
        return "only the first message may be the system prompt"
    if any(r == "tool" and roles[i - 1] not in ("assistant", "tool") for i, r in enumerate(roles)):
        return "a tool message must follow an assistant turn (its call) or another tool message"
    return None


def content_id(messages: Iterable[Message | dict]) -> str:
    """Stable id: sha256 over the role/content pairs (and a turn's reasoning, where it has one),
    first 16 hex digits."""
    pairs = []
    for m in messages:
        role, content, reasoning = (m.role, m.content, m.reasoning) if isinstance(m, Message) else \
            (m["role"], m["content"], m.get("reasoning"))
        pairs.append((role, content) if reasoning is None else (role, content, reasoning))
    blob = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    # surrogatepass: a row holding a lone surrogate still gets an id, so the gate that rejects it can
    # name it (for every valid string the bytes are plain UTF-8's).
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def make_row(system: str, user: str, assistant: str, provenance: Provenance | dict, *,
             history: Iterable[Message] = (), reasoning: str | None = None, **annotations) -> Row:
    """A row: the system prompt, `history` (earlier turns, for a multi-turn row), the request and the answer."""
    return conversation_row([
        Message(role="system", content=system),
        *history,
        Message(role="user", content=user),
        Message(role="assistant", content=assistant, reasoning=reasoning),
    ], provenance, **annotations)


def conversation_row(messages: list[Message], provenance: Provenance | dict, **annotations) -> Row:
    """A row of these messages (system prompt first, the learned assistant turn last), its id derived."""
    prov = provenance if isinstance(provenance, Provenance) else Provenance(**provenance)
    return Row(id=content_id(messages), messages=list(messages), provenance=prov, annotations=dict(annotations))


class Reason(BaseModel):
    """Why a row was dropped. `code` is machine-readable, `message` is for a person,
    `detail` holds the offending part (the bad argument, the twin's id and similarity, ...)."""

    code: str
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


class Rejected(BaseModel):
    stage: str
    batch: str
    line: int | None = None  # 1-based line in the input file, when known
    row_id: str | None = None
    reasons: list[Reason]
    row: dict[str, Any] | None = None  # the row as parsed, when it parsed at all
    raw: str | None = None  # the raw text, when it did not parse


# --- JSONL I/O ------------------------------------------------------------------------------


def dump_line(obj: BaseModel | dict) -> str:
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(path: str | Path, items: Iterable[BaseModel | dict]) -> int:
    """Write items one per line (creating parent dirs), atomically; returns the count. Rewrites the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(dump_line(item) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def write_jsonl_dir(path: str | Path, parts: dict[str, Iterable[BaseModel | dict]]) -> int:
    """Replace the folder `path` with one `<name>.jsonl` per part: built beside it, then swapped in,
    so the folder never holds a mix of old and new files. Returns the number of items written."""
    path = Path(path)
    tmp = temp_beside(path)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    n = sum(write_jsonl(tmp / f"{name}.jsonl", items) for name, items in sorted(parts.items()))
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return n


def iter_jsonl_raw(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, stripped text) for every non-blank line. Byte-safe: only '\\n' ends
    a line (a bare '\\r' inside a row stays in it), and each line is decoded on its own, so one invalid
    UTF-8 byte spoils only its line, where it shows as a backslash escape (and fails to parse there)."""
    with Path(path).open("rb") as f:
        for i, raw in enumerate(f, 1):
            line = raw.decode("utf-8", errors="backslashreplace").strip()
            if line:
                yield i, line


def read_rows(path: str | Path) -> list[Row]:
    """Read a file that a stage wrote; any bad line is a hard error naming the file and line."""
    rows = []
    for i, line in iter_jsonl_raw(path):
        try:
            rows.append(Row.model_validate_json(line))
        except ValidationError as e:
            raise ValueError(f"{path}:{i}: not a valid row: {e.errors()[0]['msg']}") from e
    return rows


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for _, line in iter_jsonl_raw(path)]


def parse_row_line(line: str) -> tuple[Row | None, dict | None, Reason | None]:
    """Parse one JSONL line into a Row. Returns (row, parsed_json, reason_if_failed); parsed_json is
    None when the row parsed (the fast path never builds it) or the line is not a JSON object."""
    try:  # the fast path (pydantic's own JSON parser); anything it refuses gets the careful one below
        return Row.model_validate_json(line), None, None
    except ValidationError:
        pass
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        return None, None, Reason(code="json_invalid", message=f"line is not valid JSON: {e.msg}",
                                  detail={"position": e.pos})
    except (ValueError, RecursionError) as e:  # a huge integer, nesting deeper than the parser goes
        return None, None, Reason(code="json_invalid", message=f"line cannot be parsed: {type(e).__name__}: "
                                                               f"{str(e)[:120]}")
    if not isinstance(obj, dict):
        return None, None, Reason(code="json_invalid", message="line is JSON but not an object")
    try:
        return Row.model_validate(obj), obj, None
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return None, obj, Reason(code="row_schema", message=f"not a valid row at '{loc}': {err['msg']}",
                                 detail={"loc": loc})
