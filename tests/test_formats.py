"""slm_factory.formats (and scripts/export_data.py): exports other trainers read, checked, and read back."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from slm_factory.formats import (
    FORMATS,
    FormatError,
    check_alpaca,
    check_openai,
    check_sharegpt,
    convert,
    from_alpaca,
    to_alpaca,
    to_openai_tools,
    tools_from_schema,
)
from slm_factory.ingest import IngestSettings, ingest_file
from slm_factory.rows import Message, make_row, read_rows, write_jsonl
from slm_factory.spec import SpecError

from conftest import ROOT, load_script


@pytest.fixture
def rows(row_factory):
    return [
        row_factory("remind me to call Sam tomorrow at 9am",
                    {"tool": "create_reminder", "arguments": {"text": "call Sam", "date": "tomorrow", "time": "09:00"}}),
        row_factory("txt hana im late 😅", {"tool": "send_message", "arguments": {
            "recipient": "hana", "channel": "sms", "body": "im late 😅"}}, category="send_message"),
        row_factory("tell me a joke", {"tool": "no_tool", "arguments": {}}, category="no_tool"),
    ]


@pytest.fixture
def tools(spec):
    return tools_from_schema(spec.json_schema(), spec.label_key, spec.args_key, spec.negative_label)


def test_tools_come_from_the_contract(tools):
    names = [t["function"]["name"] for t in tools]
    assert sorted(names) == ["convert_currency", "create_event", "create_reminder", "get_weather", "send_message",
                             "set_timer"]  # the negative label is a text reply, not a tool
    reminder = next(t["function"]["parameters"] for t in tools if t["function"]["name"] == "create_reminder")
    assert reminder["type"] == "object" and reminder["required"] == ["text", "date"]
    assert "$ref" not in json.dumps(tools) and "pattern" in reminder["properties"]["time"]


def test_tools_from_a_schema_without_a_label_const():
    with pytest.raises(FormatError, match="not a tool schema"):
        tools_from_schema({"type": "object", "properties": {"label": {"type": "string"}}}, "label", "args", None)


def test_alpaca_reads_back_to_the_same_row(rows):
    # the other formats read back through ingest (tests/test_ingest.py: an import of an export)
    for row in rows:
        assert from_alpaca(to_alpaca(row)) == (row.system, row.user, row.assistant)


def test_native_tool_calls(rows, tools, spec):
    ex = to_openai_tools(rows[1], tools, spec.label_key, spec.args_key)
    call = ex["messages"][-1]["tool_calls"][0]
    assert call["function"]["name"] == "send_message" and "content" not in ex["messages"][-1]
    assert json.loads(call["function"]["arguments"])["body"] == "im late 😅"
    assert check_openai(ex, 65536) == []
    negative = to_openai_tools(rows[2], tools, spec.label_key, spec.args_key)
    assert negative["messages"][-1] == {"role": "assistant", "content": rows[2].assistant}


def test_openai_rules():
    ok = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    assert check_openai(ok, 1000) == []
    assert check_openai({"messages": [{"role": "user", "content": "hi"}]}, 1000) == ["no_assistant"]
    assert "last_not_assistant" in check_openai({"messages": ok["messages"] + [{"role": "user", "content": "x"}]}, 1000)
    assert "bad_role:bot" in check_openai({"messages": [{"role": "bot", "content": "x"}] + ok["messages"]}, 1000)
    assert check_openai({**ok, "extra": 1}, 1000) == ["unknown_keys:extra"]
    assert check_openai(ok, 10) == ["over_token_limit"]
    assert "empty_content:assistant" in check_openai(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}, 1000)
    bad_call = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "launch", "arguments": "[1]"}}]}], "tools": []}
    assert check_openai(bad_call, 1000) == ["undeclared_tool:launch", "arguments_not_object"]
    assert check_openai({"messages": []}, 1000) == ["no_messages"]


def test_sharegpt_and_alpaca_rules():
    good = {"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "h"},
                              {"from": "gpt", "value": "g"}]}
    assert check_sharegpt(good) == []
    assert "turns_not_alternating" in check_sharegpt({"conversations": [{"from": "human", "value": "a"},
                                                                       {"from": "human", "value": "b"}]})
    assert check_sharegpt({"conversations": [{"from": "bot", "value": "x"}]})[0] == "bad_from:bot"
    assert check_sharegpt({}) == ["no_conversations"]
    assert check_alpaca({"instruction": "i", "input": "x", "output": "y"}) == []
    assert check_alpaca({"instruction": "i", "input": "x", "output": ""}) == ["empty_output"]
    assert check_alpaca({"input": "x"}) == ["missing:instruction", "missing:output"]
    with pytest.raises(FormatError):
        from_alpaca({"input": "x"})


def test_convert_accounts_for_every_row(rows, tools, spec):
    for fmt in FORMATS:
        kept, dropped = convert(rows, fmt, tools=tools, label_key=spec.label_key, args_key=spec.args_key)
        assert len(kept) == len(rows) and dropped == []
    kept, dropped = convert(rows, "openai", max_example_bytes=50)
    assert kept == [] and [d["id"] for d in dropped] == [r.id for r in rows]
    assert all(d["reasons"] == ["over_token_limit"] for d in dropped)
    with pytest.raises(ValueError, match="unknown format"):
        convert(rows, "csv")
    with pytest.raises(ValueError, match="needs the catalog"):
        convert(rows, "openai_tools")


def _export(tmp_path, rows, *extra, formats="auto", max_tokens=65536):
    for split in ("train", "dev", "test"):
        write_jsonl(tmp_path / f"{split}.jsonl", rows)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"export_data": {"formats": formats, "openai_max_tokens": max_tokens}}))
    out = tmp_path / "datasets"
    load_script("export_data").main(["--params", str(params), "--train", str(tmp_path / "train.jsonl"),
                                     "--dev", str(tmp_path / "dev.jsonl"), "--test", str(tmp_path / "test.jsonl"),
                                     "--out", str(out), *extra])
    return out


def test_export_data_script_writes_what_datasets_loads(tmp_path, rows, spec):
    from datasets import load_dataset

    out = _export(tmp_path, rows)
    report = json.loads((out / "report.json").read_text())
    assert sorted(report) == sorted(FORMATS)
    for fmt in FORMATS:
        for split in ("train", "dev", "test"):
            r = report[fmt][split]
            assert r["rows"] == r["written"] + r["dropped"] == len(rows)
        ds = load_dataset("json", data_files={s: str(out / fmt / f"{s}.jsonl") for s in ("train", "dev", "test")})
        assert ds["train"].num_rows == len(rows)
        pq = load_dataset("parquet", data_files={s: str(out / fmt / f"{s}.parquet") for s in ("train", "dev", "test")})
        assert pq["test"].num_rows == len(rows) and pq["train"].column_names == ds["train"].column_names
        if fmt != "openai_tools":  # the exact examples (openai_tools: see export_data's docstring)
            assert pq["train"].to_list() == ds["train"].to_list()
    # the factory's own reader sees the same rows back through the OpenAI export
    lines = list(enumerate((out / "openai/train.jsonl").read_text().splitlines(), 1))
    back, rejected, _ = ingest_file("export", lines, spec, IngestSettings("auto", "production_like", "medium"))
    assert not rejected
    assert [r.messages for r in back] == [r.messages for r in read_rows(tmp_path / "train.jsonl")]


def test_export_data_drops_with_reasons_and_refuses_tools_for_a_non_tool_task(tmp_path, rows):
    out = _export(tmp_path, rows, formats=["openai"], max_tokens=200)
    report = json.loads((out / "report.json").read_text())["openai"]["train"]
    assert report["written"] + report["dropped"] == len(rows) and report["dropped"] >= 1
    assert report["dropped_rows"][0]["reasons"] == ["over_token_limit"]
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    task = (specs / "task.yaml").read_text()
    (specs / "task.yaml").write_text("\n".join(l for l in task.splitlines() if not l.startswith("args_key:")))
    with pytest.raises(SpecError, match="openai_tools needs a tool task"):
        _export(tmp_path, rows, "--specs", str(specs), formats=["openai_tools"])
    with pytest.raises(SpecError, match="openai_tools needs a tool task"):
        _export(tmp_path, rows, "--specs", str(specs), "--formats", "openai_tools")
    # `auto` leaves it out for such a task
    assert "openai_tools" not in json.loads((_export(tmp_path, rows, "--specs", str(specs)) / "report.json").read_text())


@pytest.mark.slow
def test_trl_trains_a_step_on_every_export(tmp_path, rows, tokenizer_dir):
    """TRL's conversational format is OpenAI's messages (with `tools` and `tool_calls` for the native
    shape): SFTTrainer takes each export as is, an unrolled trace's row (history, a tool result) too.
    ShareGPT trains once mapped to messages, Alpaca as TRL's prompt/completion pairs."""
    import torch
    from datasets import load_dataset
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    first = rows[0]
    trace_row = make_row(first.system, "and text maya I'm on it", json.dumps(
        {"tool": "send_message", "arguments": {"recipient": "maya", "channel": "sms", "body": "I'm on it"}},
        separators=(",", ":")), first.provenance, history=[first.messages[1], first.messages[2], Message(
            role="tool", content='{"ok": true}')])
    out = _export(tmp_path, rows + [trace_row], "--formats", "openai", "openai_tools", "sharegpt", "alpaca")
    report = json.loads((out / "report.json").read_text())
    assert report["openai_tools"]["train"]["written"] == 4  # the plain shapes cannot hold the tool result
    assert report["openai"]["train"]["dropped_rows"][0]["reasons"] == ["tool_message_without_call"]
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    sharegpt = load_dataset("json", data_files=str(out / "sharegpt/train.jsonl"), split="train")
    # ShareGPT converted back to messages trains the same way
    as_messages = sharegpt.map(lambda ex: to_openai_messages(ex), remove_columns=["conversations"])
    alpaca = load_dataset("json", data_files=str(out / "alpaca/train.jsonl"), split="train")
    assert alpaca.num_rows == 3  # Alpaca holds no history: the trace row is dropped with its reason
    as_pairs = alpaca.map(lambda ex: {"prompt": f"{ex['instruction']}\n\n{ex['input']}", "completion": ex["output"]},
                          remove_columns=alpaca.column_names)
    # openai_tools: TRL passes the `tools` column to the chat template and renders the tool_calls turn
    exports = [load_dataset("json", data_files=str(out / f"{f}/train.jsonl"), split="train")
               for f in ("openai", "openai_tools")]
    own_template = tok.chat_template
    for data in (*exports, as_messages, as_pairs):
        # SmolLM2's own template has no tool-call turn; a tool-calling model's template (Qwen-style) does
        tok.chat_template = TOOL_TEMPLATE if "tools" in data.column_names else own_template
        cfg = SFTConfig(output_dir=str(tmp_path / "trl"), max_steps=1, per_device_train_batch_size=3,
                        report_to=[], use_cpu=True, save_strategy="no", logging_steps=1)
        trainer = SFTTrainer(model=model, args=cfg, train_dataset=data, processing_class=tok)
        result = trainer.train()
        assert result.global_step == 1 and torch.isfinite(torch.tensor(result.training_loss))


TOOL_TEMPLATE = (
    "{%- for m in messages %}<|im_start|>{{ m.role }}\n"
    "{%- if m.role == 'system' and tools %}{{ m.content }}\nTools: "
    "{{ tools | map(attribute='function') | map(attribute='name') | join(', ') }}"
    "{%- elif m.tool_calls %}{%- for c in m.tool_calls %}<tool_call>{\"name\": \"{{ c.function.name }}\", "
    "\"arguments\": {{ c.function.arguments }}}</tool_call>{%- endfor %}"
    "{%- else %}{{ m.content }}{%- endif %}<|im_end|>\n{% endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def to_openai_messages(example: dict) -> dict:
    role = {"system": "system", "human": "user", "gpt": "assistant"}
    return {"messages": [{"role": role[t["from"]], "content": t["value"]} for t in example["conversations"]]}
