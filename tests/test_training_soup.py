"""slm_factory.training.soup: the averaged adapter's update is exactly the mean of the updates."""

from __future__ import annotations

import shutil

import pytest

from conftest import tiny_model_dir


def _adapter(base, out, seed, rank=4):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    # init_lora_weights=False: B is random too, so each adapter really changes the weights.
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "v_proj"],
                                             init_lora_weights=False, task_type="CAUSAL_LM"))
    model.save_pretrained(str(out))
    return out


def _merged(base, adapter):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    return {k: v.clone() for k, v in PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
            .state_dict().items()}


def test_the_soup_is_the_mean_of_the_adapters_updates(tokenizer_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from slm_factory.training.soup import average_adapters

    base = tiny_model_dir(tokenizer_dir, tmp_path / "base")
    adapters = [_adapter(base, tmp_path / f"a{s}", s) for s in (1, 2, 3)]
    # the soup takes its tokenizer from the first adapter, where training saves one
    for f in tokenizer_dir.iterdir():
        if f.is_file():
            shutil.copy(f, adapters[0] / f.name)
    got = average_adapters(base, adapters, tmp_path / "soup")
    assert got["rank"] == 12 and got["targets"] == 2
    base_w = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32).state_dict()
    soup = _merged(base, tmp_path / "soup")
    singles = [_merged(base, a) for a in adapters]
    key = "model.layers.0.self_attn.q_proj.weight"
    want = base_w[key] + sum(s[key] - base_w[key] for s in singles) / 3
    assert not torch.allclose(singles[0][key], singles[1][key])  # the adapters differ
    assert torch.allclose(soup[key], want, atol=1e-6)
    untouched = "model.layers.0.mlp.up_proj.weight"
    assert torch.equal(soup[untouched], base_w[untouched])
    assert (tmp_path / "soup/tokenizer_config.json").exists()


def test_a_soup_needs_two_adapters_with_the_same_targets(tokenizer_dir, tmp_path):
    import json

    from slm_factory.training.soup import average_adapters

    base = tiny_model_dir(tokenizer_dir, tmp_path / "base")
    a = _adapter(base, tmp_path / "a", 1)
    with pytest.raises(ValueError, match="at least two"):
        average_adapters(base, [a], tmp_path / "soup")
    b = _adapter(base, tmp_path / "b", 2)
    cfg = json.loads((b / "adapter_config.json").read_text())
    cfg["target_modules"] = ["q_proj"]
    (b / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="different modules"):
        average_adapters(base, [a, b], tmp_path / "soup")


def test_each_seed_trains_with_its_own_params_and_outputs(tmp_path):
    from slm_factory.training.soup import seed_argv, seed_params

    argv = ["--params", "params.yaml", "--base-model", "b", "--train", "t.jsonl", "--out=outputs/a",
            "--loss-csv", "l.csv", "--metrics", "m.json", "--dev", "d.jsonl", "--dev-curve", "c.csv"]
    got = seed_argv(argv, tmp_path / "seed-7")
    assert got == ["--params", str(tmp_path / "seed-7/params.yaml"), "--base-model", "b", "--train", "t.jsonl",
                   "--out", str(tmp_path / "seed-7/adapter"), "--loss-csv", str(tmp_path / "seed-7/train_loss.csv"),
                   "--metrics", str(tmp_path / "seed-7/train.json"), "--dev", "d.jsonl",
                   "--dev-curve", str(tmp_path / "seed-7/train_dev_curve.csv")]
    params = {"epochs": 8, "train": {"seed": 42, "soup_seeds": [42, 7], "batch_size": 16}}
    assert seed_params(params, 7) == {"epochs": 8, "train": {"seed": 7, "soup_seeds": [], "batch_size": 16}}
    assert params["train"]["seed"] == 42  # the stage's own params are left alone


def test_soup_seeds_are_checked_when_params_load():
    from pydantic import ValidationError

    from conftest import typed_params

    assert typed_params({"train": {"soup_seeds": [42, 7]}}).train.soup_seeds == [42, 7]
    for bad, why in (([7, 7], "repeats"), ([7], "two or more")):
        with pytest.raises(ValidationError, match=why):
            typed_params({"train": {"soup_seeds": bad}})
    with pytest.raises(ValidationError, match="num_gpus"):
        typed_params({"train": {"soup_seeds": [1, 2], "num_gpus": 2}})


@pytest.mark.slow
def test_the_train_stage_ships_the_mean_of_its_seeds(tokenizer_dir, tmp_path, row_factory):
    import json

    import yaml

    from conftest import load_script, train_argv, trainable_model_dir

    base = trainable_model_dir(tokenizer_dir, tmp_path)
    argv = train_argv(tmp_path, base, row_factory) + ["--details", str(tmp_path / "details.json")]
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["train"]["soup_seeds"] = [1, 2]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    load_script("train").main(argv)
    config = json.loads((tmp_path / "adapter/adapter_config.json").read_text())
    details = json.loads((tmp_path / "details.json").read_text())
    assert config["r"] == 8 and details["soup_seeds"] == [1, 2] and set(details["seed_final_losses"]) == {"1", "2"}
    assert json.loads((tmp_path / "train.json").read_text())["steps"] == 3
    assert (tmp_path / "loss.csv").exists() and (tmp_path / "adapter/tokenizer_config.json").exists()
    assert not list(tmp_path.glob(".soup-*"))  # the seeds' scratch folder is gone
