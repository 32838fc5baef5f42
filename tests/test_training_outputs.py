"""slm_factory.training.outputs: what a run writes is stable."""

from __future__ import annotations

import json


def test_adapter_config_is_written_the_same_whatever_the_hash_seed(tmp_path):
    from slm_factory.training.outputs import stable_adapter_config

    path = tmp_path / "adapter_config.json"
    path.write_text('{"target_modules": ["v_proj", "q_proj", "o_proj"], "r": 8}')
    stable_adapter_config(path)
    first = path.read_bytes()
    path.write_text('{"r": 8, "target_modules": ["o_proj", "v_proj", "q_proj"]}')
    stable_adapter_config(path)
    assert path.read_bytes() == first and json.loads(first)["target_modules"] == ["o_proj", "q_proj", "v_proj"]
