"""Adapter soup: one LoRA adapter whose weight update is the mean of several trainings' updates.

Trainings of one recipe that differ only in their seed (LoRA init, data order, dropout) start from
the same base weights and land in one basin; averaging their weights (a "uniform model soup",
Wortsman et al. 2022) keeps what they agree on and cancels what each memorised on its own, without
the inference cost of an ensemble. Built with PEFT's own `add_weighted_adapter(combination_type="cat")`,
which is exact: stacking the A matrices and the (weighted, scaled) B matrices gives a rank-sum adapter
with update sum_i w_i * s_i * B_i A_i. The result is an ordinary PEFT adapter folder: eval, export and
merge read it like any other.
"""

from __future__ import annotations

import json
from pathlib import Path


def average_adapters(base_model: str | Path, adapters: list[str | Path], out: str | Path) -> dict:
    """Write to `out` the adapter whose update is the uniform mean of `adapters`' updates (each trained
    on `base_model`; same target modules). Copies the first adapter's tokenizer files beside it.
    Returns what was averaged: {"adapters": [...], "rank": r, "targets": n}.

    Raises ValueError for fewer than two adapters or adapters with different target modules."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ..modeling import save_tokenizer
    from .outputs import stable_adapter_config

    paths = [Path(p) for p in adapters]
    if len(paths) < 2:
        raise ValueError(f"an adapter soup needs at least two adapters, got {len(paths)}")
    targets = [sorted(json.loads((p / "adapter_config.json").read_text())["target_modules"]) for p in paths]
    if any(t != targets[0] for t in targets):
        raise ValueError(f"adapters target different modules: {dict(zip(map(str, paths), targets))}")
    # float32 so the averaged matrices are not rounded to bf16 before they are saved.
    model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=torch.float32)
    names = [f"seed{i}" for i in range(len(paths))]
    model = PeftModel.from_pretrained(model, str(paths[0]), adapter_name=names[0])
    for name, path in zip(names[1:], paths[1:]):
        model.load_adapter(str(path), adapter_name=name)
    # "default" is the name PEFT saves at the folder's top level (other names go to a subfolder).
    model.add_weighted_adapter(names, [1.0 / len(names)] * len(names), adapter_name="default",
                               combination_type="cat")
    model.set_adapter("default")
    for name in names:
        model.delete_adapter(name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    stable_adapter_config(out / "adapter_config.json")
    from transformers import AutoTokenizer

    save_tokenizer(AutoTokenizer.from_pretrained(str(paths[0])), out)
    rank = json.loads((out / "adapter_config.json").read_text())["r"]
    return {"adapters": [str(p) for p in paths], "rank": rank, "targets": len(targets[0])}
