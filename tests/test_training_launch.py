"""slm_factory.training.launch (the train stage's backend choice and multi-GPU launch, on CPU), and the training benchmark's worker run
for real on a tiny random model (CPU), so the GPU benchmark's code path is exercised in CI."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, typed_params
from slm_factory.training import launch


def test_backend_choice_never_picks_unsloth_without_cuda():
    assert launch.pick_backend("auto", cuda=False, unsloth_installed=True) == "trl"
    assert launch.pick_backend("auto", cuda=True, unsloth_installed=True) == "unsloth"
    with pytest.raises(SystemExit, match="needs a CUDA GPU"):
        launch.pick_backend("unsloth", cuda=False, unsloth_installed=True)
    with pytest.raises(SystemExit, match="must be auto, trl or unsloth"):
        launch.pick_backend("deepspeed", cuda=True, unsloth_installed=False)


def test_launch_command_uses_accelerate_for_several_gpus():
    argv = ["--params", "p.yaml"]
    assert launch.launch_command("py", ROOT / "t.py", argv, 1, None) == ["py", str(ROOT / "t.py"), *argv]
    multi = launch.launch_command("py", ROOT / "t.py", argv, 2, None)
    assert multi[:6] == ["py", "-m", "accelerate.commands.launch", "--num_processes", "2", "--multi_gpu"]
    assert multi[-3:] == [str(ROOT / "t.py"), *argv]
    fsdp = launch.launch_command("py", ROOT / "t.py", argv, 4, "fsdp.yaml")
    assert fsdp[3:7] == ["--num_processes", "4", "--config_file", "fsdp.yaml"] and "--multi_gpu" not in fsdp


def test_gpu_count_checks_are_clear():
    launch.check_gpus("unsloth", 1, 0)
    with pytest.raises(SystemExit, match="needs train.backend: trl"):
        launch.check_gpus("unsloth", 2, 2)
    with pytest.raises(SystemExit, match="only 1 CUDA device"):
        launch.check_gpus("trl", 2, 1)


def test_accelerate_configs_are_checked_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for shipped in ("configs/accelerate/zero2.yaml", "configs/accelerate/fsdp.yaml"):
        launch.check_accelerate_config(shipped, deepspeed_installed=True)
    launch.check_accelerate_config(None, deepspeed_installed=False)
    launch.check_accelerate_config("configs/accelerate/fsdp.yaml", deepspeed_installed=False)
    with pytest.raises(SystemExit, match="asks for DeepSpeed, which is not installed"):
        launch.check_accelerate_config("configs/accelerate/zero2.yaml", deepspeed_installed=False)
    with pytest.raises(SystemExit, match="does not exist"):
        launch.check_accelerate_config(str(tmp_path / "nope.yaml"), deepspeed_installed=True)
    (tmp_path / "bad.yaml").write_text("num_processes: 4\n")
    with pytest.raises(SystemExit, match="no distributed_type"):
        launch.check_accelerate_config(str(tmp_path / "bad.yaml"), deepspeed_installed=True)
    (tmp_path / "ds.yaml").write_text("distributed_type: DEEPSPEED\ndeepspeed_config:\n  deepspeed_config_file: gone.json\n")
    with pytest.raises(SystemExit, match="names gone.json, which does not exist"):
        launch.check_accelerate_config(str(tmp_path / "ds.yaml"), deepspeed_installed=True)


def test_one_gpu_runs_see_one_gpu():
    assert launch.process_env({}, 1, 2) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert launch.process_env({"CUDA_VISIBLE_DEVICES": "3"}, 1, 2) == {"CUDA_VISIBLE_DEVICES": "3"}
    assert launch.process_env({}, 2, 2) == {} and launch.process_env({}, 1, 1) == {}


def test_steps_account_for_every_process(monkeypatch):
    from slm_factory.training.steps import total_steps, world_size

    assert total_steps(1000, 8, 1, 1, -1) == 125
    assert total_steps(1000, 8, 1, 1, -1, processes=2) == 63
    assert total_steps(1000, 8, 1, 1, 80, processes=2) == 80
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert world_size() == 2


def test_importing_the_backends_module_imports_no_training_library():
    code = ("import sys, slm_factory.training.backends, slm_factory.training.loop, slm_factory.training.launch;"
            "print([m for m in ('unsloth', 'torch', 'trl', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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


def test_padding_free_is_on_for_cpu_by_default_and_checked():
    from slm_factory.training.steps import padding_free

    assert padding_free("auto", cuda=False) is True and padding_free("auto", cuda=True) is None  # None: the backend's
    assert padding_free(True, cuda=True) is True
    assert padding_free(False, cuda=False) is False
    with pytest.raises(ValueError, match="train.padding_free"):  # refused when params.yaml is loaded
        typed_params({"train": {"padding_free": "sometimes"}})


def test_cpu_training_scores_only_completion_positions_with_the_same_loss(monkeypatch):
    """score_completion_only: TRL's fused LM head then projects only labelled positions on the CPU, and
    the loss and gradients are those of scoring every position."""
    import torch
    import trl.trainer.utils as trl_utils
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.kernels.chunked_logprob import _use_triton as unpatched

    from slm_factory.training.loop import score_completion_only

    # An in-process training earlier in the session may have patched it already: start from TRL's own,
    # and put back whatever was there after the test.
    monkeypatch.setattr(trl_utils, "_use_triton", unpatched)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2))
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    ids = torch.randint(0, 97, (2, 12))
    labels = ids.clone()
    labels[:, :8] = -100  # a prompt of 8 tokens and a completion of 4 in each of 2 rows
    scored = []
    apply = trl_utils._ChunkedLogProbFunction.apply
    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply",
                        lambda hidden, *rest: scored.append(hidden.shape[0]) or apply(hidden, *rest))

    def loss_and_grad():
        model.zero_grad()
        loss = model(input_ids=ids, labels=labels, fused_lm_head=True).loss
        loss.backward()
        return loss.item(), model.model.layers[0].mlp.up_proj.weight.grad.clone()

    every_loss, every_grad = loss_and_grad()
    assert score_completion_only() and score_completion_only()  # idempotent
    compact_loss, compact_grad = loss_and_grad()
    assert scored == [2 * 11, 2 * 4]  # every shifted position, then only the labelled ones
    assert compact_loss == pytest.approx(every_loss, rel=1e-5)
    assert torch.allclose(compact_grad, every_grad, atol=1e-6)


def test_max_steps_zero_trains_for_the_epochs(tmp_path):
    """`train.max_steps: 0` means "train for `epochs`" (the GPU profile): the Trainer must get -1, since
    given 0 it stopped after one step."""
    from slm_factory.training.steps import sft_config

    params = typed_params({"epochs": 3, "train": {"max_steps": 0, "batch_size": 10, "grad_accum": 1, "eval_every": 0}})
    args, steps = sft_config(params, tmp_path, n_rows=100, cuda=False)
    shutil.rmtree(args.output_dir)
    assert args.max_steps == -1 and args.num_train_epochs == 3 and steps == 30
    params = typed_params({"train": {"max_steps": 7}})
    args, steps = sft_config(params, tmp_path, n_rows=100, cuda=False)
    shutil.rmtree(args.output_dir)
    assert args.max_steps == 7 and steps == 7
