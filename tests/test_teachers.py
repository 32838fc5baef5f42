"""LLM teachers through the real anthropic/openai SDK clients against our own server on 127.0.0.1."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from slm_factory.config import ConfigError, load
from slm_factory.spec import TaskSpec
from slm_factory.teachers.anthropic_api import AnthropicTeacher
from slm_factory.teachers.base import Request, ResponseCache, plan_requests, request_tag
from slm_factory.teachers.factory import llm_teacher, make_teacher
from slm_factory.teachers.llm import TeacherConfigError
from slm_factory.teachers.openai_api import OpenAICompatibleTeacher, OpenAITeacher
from slm_factory.teachers.template import TemplateTeacher

from conftest import ROOT, load_script, teacher_config
from fakes.fake_llm import FakeLLM

SECRET = "sk-test-DO-NOT-LEAK-4f9a2c"


def params_file(tmp: Path, teacher: dict, n: int) -> Path:
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["n_examples"] = n
    p["teacher"] = {**p["teacher"], "temperature": 0.5, "max_tokens": 512, "concurrency": 4, "rows_per_request": 2,
                    "max_retries": 2, "timeout_s": 5, **teacher}
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    return path


def gen_args(tmp: Path, params: Path) -> list[str]:
    return ["--params", str(params), "--specs", str(ROOT / "specs"), "--cache", str(tmp / "cache"),
            "--out", str(tmp / "data/generated"), "--rejected", str(tmp / "data/rejected/generate.jsonl"),
            "--metrics", str(tmp / "headline/generate.json"), "--details", str(tmp / "metrics/generate.json"),
            "--timings", str(tmp / "metrics/generate_run.json")]


def gen_figures(tmp: Path) -> dict:
    """generate's figures of the data and of the run (requests asked, cache hits) together."""
    return {**json.loads((tmp / "metrics/generate.json").read_text()),
            **json.loads((tmp / "metrics/generate_run.json").read_text())}


def rejected_codes(tmp: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (tmp / "data/rejected/generate.jsonl").read_text().splitlines():
        for r in json.loads(line)["reasons"]:
            out[r["code"]] = out.get(r["code"], 0) + 1
    return out


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def test_one_class_per_api_from_one_factory(spec, keys):
    assert isinstance(make_teacher(spec, teacher_config(provider="template"), 0), TemplateTeacher)
    for provider, cls in (("anthropic", AnthropicTeacher), ("openai", OpenAITeacher),
                          ("openai_compatible", OpenAICompatibleTeacher)):
        teacher = make_teacher(spec, teacher_config(provider=provider, model="m"), 0)
        assert type(teacher) is cls and teacher.identity()["provider"] == provider  # cache keys name the API
    with pytest.raises(TeacherConfigError, match="'template' is not an LLM API"):
        llm_teacher(spec, teacher_config(provider="template"), 0)
    with pytest.raises(ValueError, match="provider"):
        teacher_config(provider="gemini", model="m")  # refused when params.yaml is loaded, before any work
    bodies = {p: make_teacher(spec, teacher_config(provider=p, model="m"), 0)._body("hi", max_tokens=9)
              for p in ("anthropic", "openai", "openai_compatible")}
    assert bodies["anthropic"]["max_tokens"] == 9 and "temperature" not in bodies["anthropic"]
    assert bodies["openai"]["max_completion_tokens"] == 9 and bodies["openai_compatible"]["max_tokens"] == 9


def test_the_fake_server_answers_from_the_request_tag_not_the_wording(tmp_path, spec, keys):
    """A user may rewrite generate.md in any words: the stand-in server still answers each request for
    the category, data type and row count its tag names."""
    tag = request_tag(Request("main", 7, "set_timer", "hard", "noisy"), 3)
    assert tag == "(request main-7: category=set_timer difficulty=hard data_type=noisy rows=3)"
    assert FakeLLM.tag("Anything at all.\n" + tag + "\n") == (
        "main", 7, {"category": "set_timer", "difficulty": "hard", "data_type": "noisy", "rows": "3"})
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    (specs / "generation_prompts" / "generate.md").write_text("Bitte schreib {n} Beispiele, eins pro Zeile, als JSON.\n")
    own = TaskSpec.load(specs)
    with FakeLLM(specs) as fake:
        teacher = llm_teacher(own, teacher_config(provider="openai", model="m", base_url=fake.url,
                                                  rows_per_request=3), 0)
        requests = [Request("main", i, "set_timer", "easy") for i in range(2)]
        got = []
        teacher.complete(requests, lambda r, resp: got.append(resp.text))
    rows = [json.loads(line) for text in got for line in text.splitlines()]
    assert len(rows) == 6 and all(r["output"]["tool"] == "set_timer" for r in rows)


def test_missing_key_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    params = params_file(tmp_path, {"provider": "anthropic", "model": "claude-haiku-4-5"}, 4)
    with pytest.raises(TeacherConfigError, match="ANTHROPIC_API_KEY"):
        load_script("generate").main(gen_args(tmp_path, params))
    assert not (tmp_path / "data").exists()  # failed before any work
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    params = params_file(tmp_path, {"provider": "openai_compatible", "model": "m", "api_key_env": "TOGETHER_API_KEY"}, 4)
    with pytest.raises(TeacherConfigError, match="TOGETHER_API_KEY"):
        load_script("generate").main(gen_args(tmp_path, params))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    params = params_file(tmp_path, {"provider": "openai", "model": "m", "http_client": "requests"}, 4)
    with pytest.raises(ConfigError, match="teacher.http_client: Input should be 'aiohttp' or 'httpx'"):
        load_script("generate").main(gen_args(tmp_path, params))


def test_faults_are_retried_or_rejected_with_reasons(tmp_path, keys, tokenizer_dir):
    faults = {0: "429", 1: "500", 2: "hang", 3: "malformed", 4: "truncated", 5: "refusal", 6: "injection",
              7: "malformed_body"}
    with FakeLLM(ROOT / "specs", faults=faults, hang_s=3) as fake:
        params = params_file(tmp_path, {"provider": "anthropic", "model": "claude-haiku-4-5", "base_url": fake.url,
                                        "timeout_s": 1.5}, 20)
        load_script("generate").main(gen_args(tmp_path, params))
        statuses = {}
        for e in fake.log:
            statuses.setdefault(e["index"], []).append(e["status"])
    m = gen_figures(tmp_path)
    assert m["requests"] == 10
    assert statuses[0][:2] == [429, 200] and statuses[1][:2] == [500, 200]  # retried after Retry-After / 500
    assert fake.attempts[2] >= 2 and 200 in statuses[2]                       # hang: timed out, then retried
    codes = rejected_codes(tmp_path)
    assert codes.get("teacher_unparseable") == 1 and codes.get("teacher_truncated") == 1
    assert codes.get("teacher_refused") == 1
    raws = [json.loads(x).get("raw") for x in (tmp_path / "data/rejected/generate.jsonl").read_text().splitlines()]
    assert any(r and "Here are the rows" in r for r in raws)  # the raw text is kept
    assert codes.get("teacher_error") == 1  # the invalid HTTP body: reported after the SDK gave up
    assert m["rows"] == 2 * 5 + 1  # 5 clean answers of 2 rows, and the injection answer's single row
    assert m["input_tokens"] > 0 and m["cost_usd"] > 0
    # the injected row passes generate but validate rejects it with a reason
    load_script("validate").main(["--params", str(params), "--specs", str(ROOT / "specs"), "--generated",
                                  str(tmp_path / "data/generated"), "--base-model", str(tokenizer_dir),
                                  "--accepted", str(tmp_path / "acc.jsonl"), "--rejected", str(tmp_path / "rej"),
                                  "--metrics", str(tmp_path / "headline/validate.json"),
                                  "--details", str(tmp_path / "metrics/validate.json")])
    v = json.loads((tmp_path / "metrics/validate.json").read_text())
    assert v["rejected_by_reason"].get("output_not_json", 0) >= 1
    assert v["input"] == v["accepted"] + v["rejected"]


@pytest.mark.parametrize("provider,http_client", [("openai", "aiohttp"), ("openai_compatible", "httpx")])
def test_openai_sdk_providers(tmp_path, keys, provider, http_client):
    with FakeLLM(ROOT / "specs", faults={1: "refusal", 2: "truncated"}) as fake:
        params = params_file(tmp_path, {"provider": provider, "model": "gpt-4o-mini", "base_url": fake.url + "/v1",
                                        "http_client": http_client}, 8)
        load_script("generate").main(gen_args(tmp_path, params))
        assert {e["path"] for e in fake.log} == {"/v1/chat/completions"}
        m = gen_figures(tmp_path)
        assert m["rows"] == 4 and rejected_codes(tmp_path) == {"teacher_refused": 1, "teacher_truncated": 1}
        sent = len(fake.log)
        load_script("generate").main(gen_args(tmp_path, params))  # every response is cached, refusals included
        assert len(fake.log) == sent
        assert gen_figures(tmp_path)["cache_hits"] == 4


@pytest.mark.parametrize("provider,env,suffix", [("anthropic", "ANTHROPIC_BASE_URL", ""),
                                                  ("openai", "OPENAI_BASE_URL", "/v1")])
def test_sdk_base_url_env_vars_keep_working(tmp_path, keys, monkeypatch, provider, env, suffix):
    with FakeLLM(ROOT / "specs") as fake:
        monkeypatch.setenv(env, fake.url + suffix)  # no teacher.base_url: the SDK reads its own variable
        params = params_file(tmp_path, {"provider": provider, "model": "m"}, 4)
        load_script("generate").main(gen_args(tmp_path, params))
        assert len([e for e in fake.log if e["status"] == 200]) == 2
    assert gen_figures(tmp_path)["rows"] == 4


def test_budget_stops_cleanly_and_keeps_paid_rows(tmp_path, keys):
    with FakeLLM(ROOT / "specs") as fake:
        params = params_file(tmp_path, {"provider": "anthropic", "model": "claude-haiku-4-5", "base_url": fake.url,
                                        "concurrency": 2, "max_cost_usd": 0.02}, 40)
        load_script("generate").main(gen_args(tmp_path, params))
        served = sum(1 for e in fake.log if e["status"] == 200)
    m = gen_figures(tmp_path)
    assert m["budget_exhausted"] and m["cost_usd"] <= 0.02
    assert 0 < m["rows"] == 2 * served < 40 and m["unanswered"] == 20 - served


def test_no_api_key_in_any_output_or_log(tmp_path, keys, capfd):
    with FakeLLM(ROOT / "specs", faults={0: "500"}) as fake:
        params = params_file(tmp_path, {"provider": "openai", "model": "gpt-4o-mini", "base_url": fake.url + "/v1"}, 6)
        load_script("generate").main(gen_args(tmp_path, params))
    out, err = capfd.readouterr()
    assert SECRET not in out + err
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), p


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_batch_mode_restart_polls_instead_of_resubmitting(tmp_path, keys, provider):
    url_suffix = "" if provider == "anthropic" else "/v1"
    with FakeLLM(ROOT / "specs", batch_delay_s=2.0) as fake:
        params = params_file(tmp_path, {"provider": provider, "model": "gpt-4o-mini" if provider == "openai"
                                        else "claude-haiku-4-5", "base_url": fake.url + url_suffix, "mode": "batch",
                                        "batch_poll_s": 0.2}, 8)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts/generate.py"), *gen_args(tmp_path, params)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while not fake.batches and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert len(fake.batches) == 1
        load_script("generate").main(gen_args(tmp_path, params))
        assert len(fake.batches) == 1  # the restarted run polled the stored batch
    m = gen_figures(tmp_path)
    assert m["rows"] == 8 and m["requests"] == 4
    assert not json.loads((tmp_path / "cache/pending_batches.json").read_text())


def test_batch_mode_budget_reserves_then_settles(tmp_path, keys, spec):
    """Batch mode holds each submitted request's worst case until its result settles it."""
    with FakeLLM(ROOT / "specs") as fake:
        cfg = {"provider": "anthropic", "model": "claude-haiku-4-5", "base_url": fake.url, "mode": "batch",
               "batch_poll_s": 0.05, "max_tokens": 512}
        probe = llm_teacher(spec, teacher_config(**cfg), 0, tmp_path)
        requests = plan_requests(spec, 6)
        worst = probe.worst_case_cost(probe.prompt_for(requests[0]))
        teacher = llm_teacher(spec, teacher_config(**cfg, max_cost_usd=2.5 * worst), 0, tmp_path)
        got = []
        stats = teacher.complete(requests, lambda r, resp: got.append(r.index))
    assert sorted(got) == [0, 1] and stats.done == 2 and stats.skipped == 4  # a prefix of the plan
    assert teacher.budget.exhausted and teacher.budget.reserved == pytest.approx(0.0, abs=1e-12)
    assert 0 < teacher.budget.spent <= 2.5 * worst


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


def test_judge_scores_rows_and_rejects_with_its_reason(tmp_path, keys, tokenizer_dir):
    gen_params = params_file(tmp_path, {"provider": "template"}, 12)
    load_script("generate").main(gen_args(tmp_path, gen_params))
    with FakeLLM(ROOT / "specs", faults={2: "judge_reject", 5: "malformed"}) as fake:
        p = yaml.safe_load(gen_params.read_text())
        p["validate"]["judge"].update(provider="openai", model="gpt-4o-mini", base_url=fake.url + "/v1",
                                      concurrency=4, max_tokens=256)
        params = tmp_path / "judge_params.yaml"
        params.write_text(yaml.safe_dump(p))
        args = ["--params", str(params), "--specs", str(ROOT / "specs"), "--generated", str(tmp_path / "data/generated"),
                "--base-model", str(tokenizer_dir), "--accepted", str(tmp_path / "acc.jsonl"),
                "--rejected", str(tmp_path / "rej"), "--metrics", str(tmp_path / "headline.json"),
                "--details", str(tmp_path / "v.json"),
                "--judge-cache", str(tmp_path / "judge-cache")]
        load_script("validate").main(args)
        calls = len(fake.log)
        load_script("validate").main(args)  # judged rows are cached: nothing is asked twice
        assert len(fake.log) == calls == 12
    v = json.loads((tmp_path / "v.json").read_text())
    assert v["input"] == v["accepted"] + v["rejected"] == 12
    assert v["rejected_by_reason"] == {"judge_rejected": 1, "judge_error": 1}
    acc = [json.loads(x) for x in (tmp_path / "acc.jsonl").read_text().splitlines()]
    assert all(r["annotations"]["judge"]["scores"]["format"] == 5 for r in acc)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_larger_model_baseline_answers_eval_rows(keys, provider, spec, row_factory):
    from slm_factory.metrics import score_row, summarize

    rows = [row_factory("set a timer for 5 minutes", {"tool": "set_timer", "arguments": {"duration_seconds": 300}},
                        category="set_timer"),
            row_factory("tell me a joke", {"tool": "no_tool", "arguments": {}}, category="no_tool")]
    with FakeLLM(ROOT / "specs") as fake:
        url = fake.url + ("" if provider == "anthropic" else "/v1")
        llm = llm_teacher(spec, teacher_config(provider=provider, model="m", base_url=url), 1)
        texts, seconds = llm.answer_all(spec.prompted_system_prompt, [r.user for r in rows])
    m = summarize([score_row(r, t, spec, "dev") for r, t in zip(rows, texts)], spec)
    assert m["exact_match"] == 1.0 and seconds > 0


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


class _Planted:
    """A pickled value that would create a file when unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_response_cache_is_json_and_refuses_a_planted_pickle(tmp_path):
    import json as _json
    import zlib

    import diskcache

    from slm_factory.teachers.base import Request, ResponseCache, Response

    path = tmp_path / "cache"
    cache = ResponseCache(path)
    key = ResponseCache.key({"model": "m"}, "prompt", Request("main", 0, "no_tool", "easy"))
    cache.put(key, Response(text="hello \ud800", usage={"input_tokens": 3}, stop_reason="end"))
    assert cache.get(key) == Response(text="hello \ud800", usage={"input_tokens": 3}, stop_reason="end")
    cache.close()
    # an attacker (or an older version) writes a pickle under the same key, and garbage under another
    raw = diskcache.Cache(str(path))
    raw.set(zlib.compress(_json.dumps(key).encode(), 1), _Planted(str(tmp_path / "pwned")))
    raw.set(zlib.compress(_json.dumps("k2").encode(), 1), b"\x00not zlib")
    raw.close()
    cache = ResponseCache(path)
    assert cache.get(key) is None and cache.get("k2") is None  # a miss: asked again, never a crash
    assert not (tmp_path / "pwned").exists()
    cache.put(key, Response(text="again"))
    assert cache.get(key).text == "again"
    cache.close()
