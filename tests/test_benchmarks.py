"""The benchmarks' own logic: bench/train_throughput.py pairs like with like and its worker runs on CPU; the
LoRA+ experiment patch (bench/patches/loraplus) changes the optimizer only when asked."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


def bench():
    return importlib.import_module("bench.train_throughput")


def test_benchmark_ratios_pair_like_with_like():
    b = bench()
    common = dict(arch="a", rank=16, quant="lora", gradient_checkpointing=False)
    results = [
        {**common, "backend": "trl", "policy": "padded", "gpus": 1, "step_time_s": 0.2, "tokens_per_s": 1000.0,
         "peak_mem_gib": 10.0},
        {**common, "backend": "unsloth", "policy": "padded", "gpus": 1, "step_time_s": 0.1, "tokens_per_s": 2000.0,
         "peak_mem_gib": 6.0},
        {**common, "backend": "trl", "policy": "padded", "gpus": 2, "step_time_s": 0.21, "tokens_per_s": 1800.0,
         "peak_mem_gib": 10.0},
    ]
    (pair,) = b.pair_ratios(results)
    assert pair["speed_ratio"] == 2.0 and pair["memory_ratio"] == 0.6
    (s,) = b.scaling(results)
    assert s["speedup"] == 1.8 and s["efficiency"] == 0.9


def test_benchmark_worker_runs_a_tiny_model_on_cpu(tmp_path, tokenizer_dir, row_factory):
    from slm_factory.rows import write_jsonl

    rows = tmp_path / "train.jsonl"
    write_jsonl(rows, [row_factory(f"remind me to stretch at {h}pm", {"tool": None, "arguments": {}})
                       for h in range(1, 9)])
    out = tmp_path / "bench.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, str(ROOT / "bench/train_throughput.py"), "--archs", "tiny-llama",
                        "--tokenizer", str(tokenizer_dir), "--rows", str(rows), "--ranks", "4", "--quant", "lora",
                        "--backends", "trl", "--steps", "3", "--warmup", "1", "--batch-size", "2", "--no-prime",
                        "--workdir", str(tmp_path / "models"), "--out", str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    (r,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert "error" not in r, r
    assert r["backend"] == "trl" and r["timed_steps"] == 2 and r["tokens"] > 0 and r["tokens_per_s"] > 0
    assert r["padding_free_used"] is False and r["padded_tokens"] >= r["tokens"] and r["padded_tokens"] % 64 == 0
    assert r["tokens"] == r["trl_logged_tokens"]  # our count agrees with TRL's own
    assert "| trl | tiny-llama | lora | 4 | padded |" in p.stdout


def test_copy_grammar_benchmark_times_free_any_and_word_decoding(tmp_path, tokenizer_dir, row_factory):
    """bench/copy_grammar.py on a tiny random model: each mode's median and spread, the ratio to free (the
    baseline measured in the same run) and the per-row compile time are printed."""
    import torch

    from slm_factory.rows import write_jsonl

    from conftest import tiny_model_dir

    torch.manual_seed(0)
    base = tiny_model_dir(tokenizer_dir, tmp_path / "base")
    rows = tmp_path / "dev.jsonl"
    write_jsonl(rows, [row_factory("weather in Glasgow", {"tool": "get_weather", "arguments": {"location": "Glasgow"}},
                                   category="get_weather"),
                       row_factory("text Zoë on my way", {"tool": "send_message", "arguments": {
                           "recipient": "Zoë", "channel": "sms", "body": "on my way"}}, category="send_message")])
    p = subprocess.run([sys.executable, str(ROOT / "bench/copy_grammar.py"), "--base-model", str(base),
                        "--adapter", str(tmp_path / "no_adapter"), "--eval", str(rows), "--rows", "2",
                        "--repeats", "2", "--batch-size", "2", "--max-new-tokens", "12"],
                       cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert " free: median " in p.stdout and "1.00x free" in p.stdout, p.stdout
    for mode in ("any", "word"):
        assert re.search(rf"{mode}: median [0-9.]+s \(min [0-9.]+, max [0-9.]+\), [0-9.]+x free, compile [0-9.]+ ms a row",
                         p.stdout), p.stdout


@pytest.mark.slow
def test_the_loraplus_patch_gives_the_b_matrices_their_own_rate(tmp_path, tokenizer_dir, row_factory):
    """bench/patches/loraplus (docs/quality.md, Round 10): with LORAPLUS_RATIO set, the TRL backend trains
    with PEFT's LoRA+ optimizer; without it, the backend is untouched."""
    from conftest import trainable_model_dir, train_argv

    base = trainable_model_dir(tokenizer_dir, tmp_path)
    argv = train_argv(tmp_path, base, row_factory, lr=1e-3)
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "bench/patches/loraplus"), str(ROOT)])}

    def train(**extra):
        p = subprocess.run([sys.executable, str(ROOT / "training/train_trl_peft.py"), *argv], cwd=ROOT,
                           env={**env, **extra}, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr[-2000:]
        return p.stderr

    assert "LoRA+ optimizer: ratio 4.0, groups [(4, 0.001), (0, 1e-06), (4, 0.004), (0, 0.004)]" in train(
        LORAPLUS_RATIO="4")
    assert "LoRA+" not in train()


def _group_row(i, group, category="no_tool"):
    """An eval row as the bench comparisons read it: an id, its template group and its category."""
    return {"id": i, "provenance": {"group": group, "category": category}}


def _scored(i, ok, args=None):
    """A prediction record (scripts/eval.py's Scored): a create_reminder row when `args` says whether its
    required arguments were right, else a no_tool row; `ok` is whether the label and the row were right."""
    from slm_factory.metrics import Scored

    label = "create_reminder" if args is not None else "no_tool"
    return Scored(id=i, set="test", role="test", category=label, data_type="canonical", user="", expected="",
                  predicted="", parsed=True, schema_valid=True, exact=ok, label_expected=label,
                  label_predicted=label if ok else "get_weather", label_correct=ok, required_ok=args,
                  field_ok={"tool": ok, "arguments": ok}).to_dict()


def test_shared_heldout_keeps_untrained_groups_and_scores_every_model_on_the_same_rows(spec):
    """bench/shared_heldout.py: an old eval set minus the groups any newer train set holds; each model is
    scored only on the rows every model has a prediction for."""
    sh = importlib.import_module("bench.shared_heldout")
    row, pred = _group_row, _scored

    old = [row("a", "t#0"), row("b", "t#1"), row("c", "u#0"), row("d", "v#3")]
    kept = sh.heldout_rows(old, [[row("x", "t#1")], [row("y", "u#0"), row("z", "w#0")]])
    assert [r["id"] for r in kept] == ["a", "d"]
    # "new" lacks a prediction for d, so both are scored on a alone; rows outside the set never count.
    lines = {x["model"]: x for x in sh.score_shared(kept, {"old": [pred("a", False), pred("d", True), pred("b", True)],
                                                           "new": [pred("a", True), pred("c", False)]}, spec)}
    assert lines["old"]["n"] == lines["new"]["n"] == 1
    assert lines["old"]["exact_match"] == 0.0 and lines["new"]["exact_match"] == 1.0
    assert lines["old"]["wrong"] == 1 and lines["new"]["wrong"] == 0


def test_shared_heldout_build_says_which_computed_values_each_train_set_lacks(row_factory, tmp_path, monkeypatch,
                                                                              capsys):
    """`build` writes the untrained rows and, per train set, the share of them whose computed values that
    train set shows: the new version lost 315 seconds, which a kept row asks for."""
    sh = importlib.import_module("bench.shared_heldout")
    from slm_factory.rows import write_jsonl

    def timer(text, seconds, group):
        return row_factory(text, {"tool": "set_timer", "arguments": {"duration_seconds": seconds}},
                           category="set_timer", group=group)
    files = {"old.jsonl": [timer("count 5m15s", 315, "a#0"), timer("timer 5 min", 300, "b#0")],
             "v1.jsonl": [timer("5 min 15 s timer", 315, "c#0"), timer("five minutes", 300, "d#0")],
             "v2.jsonl": [timer("five minutes", 300, "d#0"), timer("b timer 5 min", 300, "b#0")]}
    for name, rows in files.items():
        write_jsonl(tmp_path / name, rows)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["shared_heldout", "build", "--old", "old.jsonl", "--train", "v1.jsonl",
                                     "v2.jsonl", "--out", "shared.jsonl"])
    sh.main()
    err = capsys.readouterr().err
    assert "kept 1 of 2 rows, 1 groups" in err  # b#0 is in v2's train
    assert "v1.jsonl: values covered in 1.0 of kept rows; {}" in err
    assert "v2.jsonl: values covered in 0.0 of kept rows; {'arguments.duration_seconds': (0.0, ['315'])}" in err


def test_shared_heldout_scores_each_category_apart_so_a_gain_cannot_hide_a_loss(spec):
    """`score --by category`: the new model gains on timers what it loses on reminders; the overall line
    shows no change, the category lines show both."""
    sh = importlib.import_module("bench.shared_heldout")
    row, pred = _group_row, _scored
    rows = [row("a", "t#0", "set_timer"), row("b", "t#1", "set_timer"), row("c", "r#0", "create_reminder")]
    lines = sh.score_shared(rows, {"old": [pred("a", False), pred("b", True), pred("c", True, True)],
                                   "new": [pred("a", True), pred("b", True), pred("c", False, False)]},
                            spec, by="category")
    by = {(x["model"], x["part"]): x for x in lines}
    assert by["old", "all"]["wrong"] == by["new", "all"]["wrong"] == 1
    assert (by["old", "category set_timer"]["wrong"], by["new", "category set_timer"]["wrong"]) == (1, 0)
    assert (by["old", "category create_reminder"]["wrong"], by["new", "category create_reminder"]["wrong"]) == (0, 1)
    assert by["new", "category create_reminder"]["n"] == 1
    # row by row against the first model: one row each way, a sign test that sees no difference
    assert {k: by["new", "all"][k] for k in ("only_first_right", "only_this_right", "p_sign")} == {
        "only_first_right": 1, "only_this_right": 1, "p_sign": 1.0}
    assert "p_sign" not in by["old", "all"]
    assert [x["part"] for x in sh.score_shared(rows, {"m": [pred("a", True)]}, spec, by="template")] == [
        "all", "template t"]


def test_compare_by_group_splits_the_new_set_by_what_the_old_data_knew(spec):
    """bench/compare_by_group.py: the new model is scored on the groups the old eval set holds and on the
    families the old data never had, apart from its score on all its rows, with eval's own figures."""
    cmp = importlib.import_module("bench.compare_by_group")
    row, pred = _group_row, _scored

    old_rows = [row("o1", "a#0"), row("o2", "b#1")]
    old_all = [*old_rows, row("t1", "c#0")]
    new_rows = [row("n1", "a#0"), row("n2", "c#0"), row("n3", "fresh#0"), row("n4", "fresh#2")]
    lines = cmp.compare([pred("o1", True, True), pred("o2", False, False)], old_rows, old_all,
                        [pred("n1", True, False), pred("n2", True), pred("n3", False), pred("n4", True)], new_rows,
                        spec)
    by = {(x["model"], x["part"]): x for x in lines}
    assert by["old", "all"]["tool_accuracy"] == 0.5 and by["old", "all"]["arguments_required_accuracy"] == 0.5
    assert by["new", "all"]["n"] == 4 and by["new", "all"]["tool_accuracy"] == 0.75
    shared = by["new", "groups the old set holds"]
    assert shared["n"] == 1 and shared["arguments_required_accuracy"] == 0.0  # only a#0: c#0 was in old train
    fresh = by["new", "families new to the data"]
    assert fresh["n"] == 2 and fresh["exact_match"] == 0.5 and fresh["arguments_required_accuracy"] is None
    fam = {x["part"]: x for x in cmp.by_template("new", [pred("n3", False), pred("n4", True), pred("n1", True, True)],
                                                  new_rows, ["fresh", "gone"], spec)}
    assert fam["template fresh"]["n"] == 2 and fam["template fresh"]["exact_match"] == 0.5
    assert fam["template gone"] == {"model": "new", "part": "template gone", "n": 0}


def test_errors_by_group_joins_wrong_rows_to_their_groups_and_refuses_a_foreign_set():
    """bench/errors_by_group.py: every row that is not exact, with its group; wrong tools counted per group,
    wrong required arguments per template; a prediction the eval set lacks is an error, not a silent drop."""
    eg = importlib.import_module("bench.errors_by_group")
    row, pred = _group_row, _scored
    rows = [row("a", "t#0"), row("b", "t#1"), row("c", "u#0"), row("d", "u#0")]
    wrong_args = {**pred("b", True, False), "exact": False}  # the right tool, a required argument wrong
    errs = eg.errors([pred("a", True, True), wrong_args, pred("c", False), pred("d", False)], rows)
    assert [(e["id"], e["group"]) for e in errs] == [("b", "t#1"), ("c", "u#0"), ("d", "u#0")]
    assert eg.clusters(errs) == {"wrong_tool_by_group": {"u#0": 2}, "wrong_required_args_by_template": {"t": 1}}
    with pytest.raises(KeyError, match="1 predictions have no row"):
        eg.errors([pred("zz", True)], rows)


def test_compare_data_counts_rows_per_part_and_the_rows_a_change_left_alone():
    """bench/compare_data.py: a family that lost rows to a new one comes first, with how many of its rows
    are still the very same rows (same id); a family left alone reads old == new == kept."""
    cd = importlib.import_module("bench.compare_data")
    row = _group_row
    old = [row("a1", "a#0", "set_timer"), row("a2", "a#1", "set_timer"), row("a3", "a#0", "set_timer"),
           row("b1", "b#0"), row("b2", "b#1")]
    new = [row("a1", "a#0", "set_timer"), row("a9", "a#1", "set_timer"),
           row("b1", "b#0"), row("b2", "b#1"), row("c1", "c#0"), row("c2", "c#0")]
    lines = cd.compare(old, new)
    assert lines[0] == {"part": "a", "old": 3, "new": 2, "kept": 1, "change": -1}
    assert {"part": "b", "old": 2, "new": 2, "kept": 2, "change": 0} in lines
    assert lines[-1] == {"part": "c", "old": 0, "new": 2, "kept": 0, "change": 2}
    assert cd.compare(old, new, by="category")[0] == {"part": "set_timer", "old": 3, "new": 2, "kept": 1,
                                                      "change": -1}
