"""LLM teachers through the real anthropic/openai SDK clients against our own server on 127.0.0.1."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from slm_factory.teachers.base import plan_requests
from slm_factory.teachers.factory import llm_teacher

from conftest import ROOT, SECRET, gen_args, gen_figures, load_script, params_file, rejected_codes, teacher_config
from fakes.fake_llm import FakeLLM


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


@pytest.mark.parametrize("provider,env,suffix", [("anthropic", "ANTHROPIC_BASE_URL", ""),
                                                  ("openai", "OPENAI_BASE_URL", "/v1")])
def test_sdk_base_url_env_vars_keep_working(tmp_path, keys, monkeypatch, provider, env, suffix):
    with FakeLLM(ROOT / "specs") as fake:
        monkeypatch.setenv(env, fake.url + suffix)  # no teacher.base_url: the SDK reads its own variable
        params = params_file(tmp_path, {"provider": provider, "model": "m"}, 4)
        load_script("generate").main(gen_args(tmp_path, params))
        assert len([e for e in fake.log if e["status"] == 200]) == 2
    assert gen_figures(tmp_path)["rows"] == 4
