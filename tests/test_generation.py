"""slm_factory.generation: the generate stage end to end against a local LLM server, and hostile teacher answers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from slm_factory.config import load
from slm_factory.rows import dump_line
from slm_factory.spec import TaskSpec
from slm_factory.teachers.base import ResponseCache, plan_requests
from slm_factory.teachers.factory import llm_teacher
from slm_factory.teachers.llm import TeacherConfigError

from conftest import ROOT, gen_args, gen_figures, load_script, params_file, teacher_config
from fakes.fake_llm import FakeLLM


def test_kill_and_resume_pays_once_and_matches_uninterrupted(tmp_path, keys):
    teacher_cfg = {"provider": "anthropic", "model": "claude-haiku-4-5", "concurrency": 2}
    with FakeLLM(ROOT / "specs", latency_s=0.25) as fake:
        run_dir = tmp_path / "killed"
        params = params_file(run_dir if run_dir.mkdir() is None else run_dir, {**teacher_cfg, "base_url": fake.url}, 32)
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts/generate.py"), *gen_args(run_dir, params)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while sum(e["status"] == 200 for e in fake.log) < 5 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first = list(fake.log)
        spec = TaskSpec.load(ROOT / "specs")
        teacher = llm_teacher(spec, load(params, ("teacher",)).teacher, 42, run_dir / "cache")
        cache = ResponseCache(run_dir / "cache")
        cached = {r.index for r in plan_requests(spec, 16)
                  if cache.get(ResponseCache.key(teacher.identity(), teacher.prompt_for(r), r)) is not None}
        cache.close()
        assert cached and len(cached) < 16
        load_script("generate").main(gen_args(run_dir, params))
        again = {e["index"] for e in fake.log[len(first):]}
        assert not again & cached  # no request that had completed was sent twice
        assert again | cached == set(range(16))
        clean_dir = tmp_path / "clean"
        clean_dir.mkdir()
        load_script("generate").main(gen_args(clean_dir, params_file(clean_dir, {**teacher_cfg, "base_url": fake.url}, 32)))
    for f in sorted((clean_dir / "data/generated").glob("*.jsonl")):
        assert f.read_text() == (run_dir / "data/generated" / f.name).read_text()


def test_native_tools_labels_rows_with_the_endpoints_tool_calls(tmp_path, keys, spec):
    """teacher.mode native_tools: the teacher writes the requests, then each one is sent with the
    catalog as `tools` and the model's tool call is the label (the fake answers with its rule router,
    so every label must be the router's, not the grammar's); no call -> the negative label."""
    rules = __import__("slm_factory.spec", fromlist=["load_module"]).load_module(ROOT / "specs" / "rules.py", "_r")
    with FakeLLM(ROOT / "specs") as fake:
        params = params_file(tmp_path, {"provider": "openai_compatible", "model": "qwen3-8b", "mode": "native_tools",
                                        "base_url": fake.url + "/v1"}, 12)
        load_script("generate").main(gen_args(tmp_path, params))
        rows = [json.loads(line) for f in sorted((tmp_path / "data/generated").glob("*.jsonl"))
                for line in f.read_text().splitlines()]
        assert len(rows) == 12 and fake.tool_requests == 12
        for row in rows:
            user, answer = row["messages"][1]["content"], json.loads(row["messages"][2]["content"])
            assert answer == rules.route(user)
        labels = {json.loads(r["messages"][2]["content"])["tool"] for r in rows}
        assert "no_tool" in labels and len(labels) >= 3  # text answers became the negative label
        sent = len(fake.log)
        load_script("generate").main(gen_args(tmp_path, params))  # labels are cached with the response
        assert len(fake.log) == sent
    with pytest.raises(TeacherConfigError, match="OpenAI-compatible"):
        llm_teacher(spec, teacher_config(provider="anthropic", model="m", mode="native_tools"), 0)


TEACHER_ANSWERS = {
    "empty": ("", "end", "teacher_unparseable"),
    "prose": ("Sure! Here you go.", "end", "teacher_unparseable"),
    "null": ("null", "end", "teacher_unparseable"),
    "number": ("42", "end", "teacher_unparseable"),
    "list_of_numbers": ("[1, 2]", "end", "teacher_unparseable"),
    "no_user": ('{"output": {"tool": "no_tool", "arguments": {}}}', "end", "teacher_unparseable"),
    "no_output": ('{"user": "hello there my friend"}', "end", "teacher_unparseable"),
    "half_line": ('{"user": "remind me', "end", "teacher_unparseable"),
    "deep": ("[" * 100_000, "end", "teacher_unparseable"),
    "huge_int": ("9" * 6000, "end", "teacher_unparseable"),
    "truncated": ('{"user": "a", "output": {}}', "max_tokens", "teacher_truncated"),
    "refused": ("I cannot help with that.", "refusal", "teacher_refused"),
    "one_good_one_bad": ('{"user": "what is the weather in Oslo", "output": {"tool": "get_weather", '
                         '"arguments": {"location": "Oslo"}}}\n[1]', "end", "teacher_unparseable"),
}


@pytest.mark.parametrize("name", sorted(TEACHER_ANSWERS))
def test_a_poisoned_teacher_answer_never_raises_and_loses_nothing(spec, name):
    from slm_factory.generation import response_to_rows
    from slm_factory.teachers.base import Request, Response

    text, stop, code = TEACHER_ANSWERS[name]
    rows, rejected = response_to_rows(Response(text=text, stop_reason=stop), Request("main", 1, "no_tool", "easy"),
                                      spec, "batch_001", "fake", "teacher")
    assert rejected and all(r.reasons[0].code == code for r in rejected)
    assert len(rows) == (1 if name == "one_good_one_bad" else 0)
    for r in rejected:
        json.loads(dump_line(r))  # writable, raw text kept


@pytest.mark.parametrize("extras, resolved", [(None, ["formats"]), ([], []), (["wide"], ["wide"])])
def test_the_details_record_what_template_extras_resolved_to(tmp_path, extras, resolved):
    # null takes specs/templates.yaml's default_extras; the params alone would record only `null`
    params = params_file(tmp_path, {"provider": "template", "template_extras": extras}, 8)
    load_script("generate").main(gen_args(tmp_path, params))
    m = gen_figures(tmp_path)
    assert m["template_extras"] == resolved and m["rows"] == 8
