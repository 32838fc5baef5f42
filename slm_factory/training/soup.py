"""Adapter soup: one LoRA adapter whose weight update is the mean of several trainings' updates.

Trainings of one recipe that differ only in their seed (LoRA init, data order, dropout) start from
the same base weights and land in one basin; averaging their weights (a "uniform model soup",
Wortsman et al. 2022) keeps what they agree on and cancels what each memorised on its own, without
the inference cost of an ensemble. Built with PEFT's own `add_weighted_adapter(combination_type="cat")`,
which is exact: stacking the A matrices and the (weighted, scaled) B matrices gives a rank-sum adapter
with update sum_i w_i * s_i * B_i A_i. The result is an ordinary PEFT adapter folder: eval, export and
merge read it like any other.

`train.soup_seeds` makes the train stage one: each seed trains as its own backend process (`seed_argv`,
`seed_params`), side by side on a GPU, in turn on the CPU, then `collect` writes the stage's outputs.
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
    from transformers import AutoModelForCausalLM, AutoTokenizer

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
    save_tokenizer(AutoTokenizer.from_pretrained(str(paths[0])), out)
    rank = model.peft_config["default"].r  # "cat" stacked the seeds' matrices: the sum of their ranks
    return {"adapters": [str(p) for p in paths], "rank": rank, "targets": len(targets[0])}


# The backend's output flags (training.loop.parse_args): each seed of a soup writes them in its own folder.
OUTPUT_FLAGS = {"--out": "adapter", "--loss-csv": "train_loss.csv", "--metrics": "train.json",
                "--details": "train_details.json", "--timings": "train_timings.json",
                "--dev-curve": "train_dev_curve.csv"}


def seed_params(params: dict, seed: int) -> dict:
    """The params one seed of a soup trains with: the same, with `train.seed` = seed and no soup."""
    return {**params, "train": {**params["train"], "seed": seed, "soup_seeds": []}}


def seed_argv(argv: list[str], folder: Path) -> list[str]:
    """The backend's arguments for one seed: the same inputs, with --params and every output in `folder`
    (`--flag value` and `--flag=value` both)."""
    swap = {**OUTPUT_FLAGS, "--params": "params.yaml"}
    out, i = [], 0
    while i < len(argv):
        flag, _, value = argv[i].partition("=")
        if flag in swap:
            out += [flag, str(folder / swap[flag])]
            i += 1 if value else 2
        else:
            out.append(argv[i])
            i += 1
    return out


def collect(a, folders: dict[int, Path], seconds: float) -> dict:
    """Write the train stage's declared outputs from a soup's seeds (`a`: training.loop.parse_args of the
    stage's own arguments): --out gets the mean adapter; the loss and dev curves and the headline figures
    are the first seed's (every seed's final loss is in --details); --timings the whole soup's wall time.
    Returns the details written."""
    import shutil

    from ..common import write_json

    seeds = list(folders)
    first = folders[seeds[0]]
    if a.out.exists():
        shutil.rmtree(a.out)
    made = average_adapters(a.base_model, [folders[s] / OUTPUT_FLAGS["--out"] for s in seeds], a.out)
    for dest, name in ((a.loss_csv, "--loss-csv"), (a.metrics, "--metrics"), (a.dev_curve, "--dev-curve")):
        if dest is not None and (first / OUTPUT_FLAGS[name]).exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(first / OUTPUT_FLAGS[name], dest)
    details = json.loads((first / OUTPUT_FLAGS["--details"]).read_text()) if a.details else {}
    details.update(soup_seeds=seeds, soup_rank=made["rank"], seed_final_losses={
        str(s): json.loads((folders[s] / OUTPUT_FLAGS["--metrics"]).read_text()).get("final_loss") for s in seeds})
    if a.details:
        write_json(a.details, details)
    if a.timings:
        write_json(a.timings, {"train_seconds": round(seconds, 1), "seeds": len(seeds)})
    return details


def train_soup(argv: list[str], seeds: list[int], command, env: dict, side_by_side: bool) -> dict:
    """The train stage with `train.soup_seeds`: train every seed as its own backend process (`command(argv)`
    is that process's command line), side by side when `side_by_side` (a GPU: a small model leaves most of
    it idle) else in turn (the CPU's cores go to one training at a time), in a scratch folder beside --out
    that is removed afterwards; then `collect`. Raises SystemExit naming the seeds whose training failed."""
    import shutil
    import subprocess
    import tempfile
    import time

    import yaml

    from .loop import parse_args

    a = parse_args("train", argv)
    raw = yaml.safe_load(a.params.read_text())
    a.out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".soup-", dir=a.out.parent))
    try:
        t0 = time.perf_counter()
        folders, procs = {}, {}
        for seed in seeds:
            folders[seed] = scratch / f"seed-{seed}"
            folders[seed].mkdir()
            (folders[seed] / "params.yaml").write_text(yaml.safe_dump(seed_params(raw, seed), sort_keys=False))
            procs[seed] = subprocess.Popen(command(seed_argv(argv, folders[seed])), env=env)
            if not side_by_side:
                procs[seed].wait()
        failed = [s for s, p in procs.items() if p.wait() != 0]
        if failed:
            raise SystemExit(f"train: the soup's training failed for seed(s) {failed}; nothing was saved")
        return collect(a, folders, time.perf_counter() - t0)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
