"""The one row type that flows through every data stage, and its JSONL I/O.

A `Row` is an OpenAI-style chat example (system, user, assistant) plus provenance. Its `id` is derived
from the messages alone, so the same content always gets the same id, whatever generated it.
A `Rejected` record wraps a row (or the raw text that could not become one) with machine-readable
reasons; every stage that drops something writes one of these.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Role = Literal["system", "user", "assistant"]
Source = Literal["template", "teacher", "human"]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str


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
        if roles != ["system", "user", "assistant"]:
            raise ValueError(f"messages must be system, user, assistant in that order; got {roles}")
        expected = content_id(self.messages)
        if self.id != expected:
            raise ValueError(f"id {self.id!r} does not match the content hash {expected!r}")
        return self

    @property
    def system(self) -> str:
        return self.messages[0].content

    @property
    def user(self) -> str:
        return self.messages[1].content

    @property
    def assistant(self) -> str:
        return self.messages[2].content


def content_id(messages: Iterable[Message | dict]) -> str:
    """Stable id: sha256 over the role/content pairs, first 16 hex digits."""
    pairs = [
        (m.role, m.content) if isinstance(m, Message) else (m["role"], m["content"]) for m in messages
    ]
    blob = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    # surrogatepass: a row holding a lone surrogate still gets an id, so the gate that rejects it can
    # name it (for every valid string the bytes are plain UTF-8's).
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def make_row(system: str, user: str, assistant: str, provenance: Provenance | dict, **annotations) -> Row:
    msgs = [
        Message(role="system", content=system),
        Message(role="user", content=user),
        Message(role="assistant", content=assistant),
    ]
    prov = provenance if isinstance(provenance, Provenance) else Provenance(**provenance)
    return Row(id=content_id(msgs), messages=msgs, provenance=prov, annotations=dict(annotations))


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
    """Write items one per line (creating parent dirs); returns the count. Rewrites the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(dump_line(item) + "\n")
            n += 1
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
    """Parse one JSONL line into a Row. Returns (row, parsed_json, reason_if_failed)."""
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
