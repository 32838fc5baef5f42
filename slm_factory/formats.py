"""Dataset formats other trainers read: conversion from and to the factory's row, and each target's rules.

Formats (one example per row; a row is a system prompt, its conversation, and the learned assistant turn
last; most rows are one exchange, an unrolled trace's rows carry history and `tool` messages):
- `openai`: OpenAI chat fine-tuning JSONL, `{"messages": [{"role", "content"}, ...]}` (also TRL's
  conversational format).
- `openai_tools`: for a tool task (task.yaml names `label_key` and `args_key`), OpenAI's native
  function-calling shape: `tools` built from the output schema (one function per label) and every
  assistant answer naming a tool (history included) as a `tool_calls` entry, each `tool` message
  answering its call by `tool_call_id`; the negative label (`no_tool`) stays a plain assistant reply.
- `sharegpt`: `{"conversations": [{"from": "system"|"human"|"gpt"|"observation", "value"}, ...]}`.
- `alpaca`: `{"instruction", "input", "output"}` (instruction = the system prompt); one exchange only.

A format that cannot hold a row drops it with the reason: plain `openai` has no call for a `tool`
message to answer, ShareGPT needs human and gpt sides to alternate, Alpaca holds no history.

`check_*` return the reasons an example breaks its target's documented rules ([] when it is fine), so
an export drops such an example with its reason instead of writing a file the trainer rejects.
Reading these formats back is ingest's job (every format, multi-turn included); `from_alpaca` is here
because Alpaca's rules and its reading are one thing.
"""

from __future__ import annotations

import json
from typing import Any

from .rows import Row

FORMATS = ("openai", "openai_tools", "sharegpt", "alpaca")
OPENAI_ROLES = {"system", "user", "assistant", "tool"}  # what a chat example may hold
SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}


class FormatError(ValueError):
    """An example that cannot be read back in the format it claims."""


def tools_from_schema(schema: dict, label_key: str, args_key: str, negative: str | None) -> list[dict]:
    """OpenAI `tools` from a discriminated-union output schema: one function per label, its arguments'
    JSON schema as `parameters` (local `$ref`s inlined); the negative label is not a tool."""
    defs = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].split("/")[-1]
                if name not in defs:
                    raise FormatError(f"output schema: unresolved $ref {node['$ref']}")
                return inline(defs[name])
            return {k: inline(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    tools = []
    for variant in schema.get("oneOf", schema.get("anyOf", [])):
        v = inline(variant)
        props = v.get("properties", {})
        name = props.get(label_key, {}).get("const")
        if name is None or name == negative:
            continue
        params = props.get(args_key, {"type": "object", "properties": {}})
        params = {k: val for k, val in params.items() if k != "default"}
        tools.append({"type": "function", "function": {"name": name, "parameters": params}})
    if not tools:
        raise FormatError(f"output schema: no oneOf variant has a const '{label_key}'; not a tool schema")
    return tools


def to_openai(row: Row) -> dict:
    return {"messages": [{"role": m.role, "content": m.content} for m in row.messages]}


def to_openai_tools(row: Row, tools: list[dict], label_key: str, args_key: str) -> dict:
    """Every assistant answer naming a catalog tool as a native tool call (the learned turn's id is
    `call_<row id>`, a history turn's `call_<row id>_<index>`), and each tool message answering the call
    before it; an answer naming no catalog tool stays a text reply."""
    names = {t["function"]["name"] for t in tools}
    out, last_call = [], None
    for i, m in enumerate(row.messages):
        try:
            answer = json.loads(m.content) if m.role == "assistant" else None
        except json.JSONDecodeError:
            answer = None
        if isinstance(answer, dict) and answer.get(label_key) in names:
            last_call = f"call_{row.id}" if i == len(row.messages) - 1 else f"call_{row.id}_{i}"
            out.append({"role": "assistant", "tool_calls": [{
                "id": last_call, "type": "function",
                "function": {"name": answer[label_key],
                             "arguments": json.dumps(answer.get(args_key, {}), ensure_ascii=False,
                                                     separators=(",", ":"))}}]})
        elif m.role == "tool":
            out.append({"role": "tool", "content": m.content, **({"tool_call_id": last_call} if last_call else {})})
        else:
            out.append({"role": m.role, "content": m.content})
            last_call = None if m.role == "assistant" else last_call
    return {"messages": out, "tools": tools}


def to_sharegpt(row: Row) -> dict:
    return {"conversations": [{"from": SHAREGPT_FROM[m.role], "value": m.content} for m in row.messages]}


def to_alpaca(row: Row) -> dict:
    """One exchange (`convert` drops a row with history: Alpaca trainers would learn its last exchange
    without the turns it depends on)."""
    return {"instruction": row.system, "input": row.user, "output": row.assistant}


def check_openai(example: dict, max_example_bytes: int) -> list[str]:
    """OpenAI chat fine-tuning rules: known keys and roles, string content (or tool_calls on an
    assistant turn), at least one assistant message and the last one an assistant's, tool calls naming
    a declared tool with JSON-object arguments, and the example within the token limit. Tokens are
    bounded by UTF-8 bytes (a token is at least one byte), so `max_example_bytes` set to the model's
    per-example token limit never lets a too-long example through."""
    problems = []
    unknown = set(example) - {"messages", "tools"}
    if unknown:
        problems.append(f"unknown_keys:{','.join(sorted(unknown))}")
    msgs = example.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return problems + ["no_messages"]
    tool_names = {t.get("function", {}).get("name") for t in example.get("tools", [])}
    open_calls: set = set()  # ids of the calls a tool message may answer
    for m in msgs:
        role = m.get("role")
        if role not in OPENAI_ROLES:
            problems.append(f"bad_role:{role}")
            continue
        if role == "tool" and m.get("tool_call_id") not in open_calls:
            problems.append("tool_message_without_call")
        if role != "tool":
            open_calls = {c.get("id") for c in m.get("tool_calls") or []}
        calls = m.get("tool_calls")
        if calls is not None:
            if role != "assistant":
                problems.append("tool_calls_outside_assistant")
            for c in calls:
                fn = c.get("function", {})
                if fn.get("name") not in tool_names:
                    problems.append(f"undeclared_tool:{fn.get('name')}")
                try:
                    if not isinstance(json.loads(fn.get("arguments", "")), dict):
                        problems.append("arguments_not_object")
                except json.JSONDecodeError:
                    problems.append("arguments_not_json")
        elif not isinstance(m.get("content"), str) or not m["content"]:
            problems.append(f"empty_content:{role}")
    if not any(m.get("role") == "assistant" for m in msgs):
        problems.append("no_assistant")
    elif msgs[-1].get("role") != "assistant":
        problems.append("last_not_assistant")
    if len(json.dumps(example, ensure_ascii=False).encode()) > max_example_bytes:
        problems.append("over_token_limit")
    return problems


def check_sharegpt(example: dict) -> list[str]:
    """ShareGPT as trainers (LLaMA-Factory) read it: optional system first, then the human side (human,
    observation: a tool's result) and the gpt side alternating, starting with human, ending on gpt."""
    conv = example.get("conversations")
    if not isinstance(conv, list) or not conv:
        return ["no_conversations"]
    turns = [t.get("from") for t in conv]
    if turns[0] == "system":
        turns = turns[1:]
    problems = [f"bad_from:{f}" for f in turns if f not in ("human", "gpt", "observation")]
    side = ["gpt" if t == "gpt" else "human" for t in turns]
    if any(s == side[i - 1] for i, s in enumerate(side) if i):
        problems.append("turns_not_alternating")
    if not turns or turns[0] != "human" or turns[-1] != "gpt":
        problems.append("not_human_first_gpt_last")
    if any(not isinstance(t.get("value"), str) or not t["value"] for t in conv):
        problems.append("empty_value")
    return problems


def check_alpaca(example: dict) -> list[str]:
    problems = [f"missing:{k}" for k in ("instruction", "input", "output") if not isinstance(example.get(k), str)]
    if example.get("history"):  # LLaMA-Factory's extension: turns before this one, which we'd lose
        problems.append("multi_turn_history")
    if not problems and not example["output"]:
        problems.append("empty_output")
    if not problems and not (example["instruction"] or example["input"]):
        problems.append("empty_prompt")
    return problems


def from_alpaca(example: dict) -> tuple[str, str, str]:
    problems = check_alpaca(example)
    if problems:
        raise FormatError(f"not an Alpaca example: {problems}")
    return example["instruction"], example["input"], example["output"]


def convert(rows: list[Row], fmt: str, *, tools: list[dict] | None = None, label_key: str | None = None,
            args_key: str | None = None, max_example_bytes: int = 65536) -> tuple[list[dict], list[dict]]:
    """Rows as `fmt` examples, checked: (kept examples, dropped [{id, reasons}]). Every row is one or the other."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt == "openai_tools" and not (tools and label_key and args_key):
        raise ValueError("openai_tools needs the catalog's tools and the task's label_key and args_key")
    kept, dropped = [], []
    for row in rows:
        if fmt == "openai":
            ex = to_openai(row)
            problems = check_openai(ex, max_example_bytes)
        elif fmt == "openai_tools":
            ex = to_openai_tools(row, tools, label_key, args_key)
            problems = check_openai(ex, max_example_bytes)
        elif fmt == "sharegpt":
            ex = to_sharegpt(row)
            problems = check_sharegpt(ex)
        else:
            ex = to_alpaca(row)
            problems = ["multi_turn_history"] if row.history else check_alpaca(ex)
        if problems:
            dropped.append({"id": row.id, "reasons": problems})
        else:
            kept.append(ex)
    return kept, dropped
