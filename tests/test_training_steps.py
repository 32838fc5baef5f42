"""slm_factory.training.steps: step maths and the SFTConfig built from the typed params."""

from __future__ import annotations

import shutil

import pytest

from conftest import typed_params


def test_steps_account_for_every_process(monkeypatch):
    from slm_factory.training.steps import total_steps, world_size

    assert total_steps(1000, 8, 1, 1, -1) == 125
    assert total_steps(1000, 8, 1, 1, -1, processes=2) == 63
    assert total_steps(1000, 8, 1, 1, 80, processes=2) == 80
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert world_size() == 2


def test_padding_free_is_on_for_cpu_by_default_and_checked():
    from slm_factory.training.steps import padding_free

    assert padding_free("auto", cuda=False) is True and padding_free("auto", cuda=True) is None  # None: the backend's
    assert padding_free(True, cuda=True) is True
    assert padding_free(False, cuda=False) is False
    with pytest.raises(ValueError, match="train.padding_free"):  # refused when params.yaml is loaded
        typed_params({"train": {"padding_free": "sometimes"}})


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
