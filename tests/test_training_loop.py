"""slm_factory.training.loop: the training run: loss on completions only, refusals before work, stops on NaN."""

from __future__ import annotations

import json
import math

import pytest

from slm_factory.modeling import TokenizerError

from conftest import broken_copy, load_script, tiny_model_dir, train_argv, trainable_model_dir


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


def test_train_refuses_a_broken_tokenizer_and_saves_nothing(tokenizer_dir, tmp_path, row_factory):
    base = tiny_model_dir(broken_copy(tokenizer_dir, tmp_path / "tok"), tmp_path / "base")
    with pytest.raises(TokenizerError, match="not the end-of-turn token"):
        load_script("train_trl_peft").main(train_argv(tmp_path, base, row_factory))
    assert not (tmp_path / "adapter").exists() and not (tmp_path / "train.json").exists()


def test_train_measures_the_dev_subset_during_training(tokenizer_dir, tmp_path, row_factory):
    base = trainable_model_dir(tokenizer_dir, tmp_path)
    load_script("train_trl_peft").main(train_argv(tmp_path, base, row_factory, eval_every=1))
    curve = (tmp_path / "dev_curve.csv").read_text().splitlines()
    assert curve[0] == "step,dev_loss,dev_token_accuracy" and [x.split(",")[0] for x in curve[1:]] == ["1", "2", "3"]
    metrics = json.loads((tmp_path / "train.json").read_text())
    assert metrics["steps"] == 3 and metrics["final_dev_loss"] == float(curve[-1].split(",")[1])
    assert (tmp_path / "adapter/adapter_config.json").exists()


def test_a_non_finite_loss_stops_training():
    from slm_factory.training.loop import NonFiniteError, stop_on_non_finite

    cb = stop_on_non_finite()
    state = type("S", (), {"global_step": 7})()
    cb.on_log(None, state, None, logs={"loss": 1.5, "grad_norm": 0.3})
    with pytest.raises(NonFiniteError, match="grad_norm is nan at step 7"):
        cb.on_log(None, state, None, logs={"loss": 1.5, "grad_norm": math.nan})
    with pytest.raises(NonFiniteError, match="loss is inf"):
        cb.on_log(None, state, None, logs={"loss": math.inf})
