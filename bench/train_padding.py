"""Benchmark: padding-free vs padded training with the train stage's TRL backend (not a test).

    python bench/train_padding.py [--base-model outputs/base_model] [--train data/train.jsonl] [--steps 30]

Runs `training/train_trl_peft.py` (the train stage's CPU backend) twice on the same rows, seed and
order, for --steps optimizer steps: first padded (`train.padding_free: false`, the named baseline),
then padding-free (`true`). Prints each run's training seconds, real tokens/s and final loss, and the
speed ratio against the padded run. Both runs see identical batches, so their losses should agree to
rounding; a gap would mean rows attended across each other. Needs the base model that `dvc repro
prepare_base` writes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(params: dict, base: Path, train: Path, tmp: Path, name: str) -> dict:
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump(params))
    metrics, timings = tmp / f"{name}.json", tmp / f"{name}_timings.json"
    subprocess.run([sys.executable, str(ROOT / "training/train_trl_peft.py"), "--params", str(p), "--base-model",
                    str(base), "--train", str(train), "--out", str(tmp / f"{name}_adapter"),
                    "--loss-csv", str(tmp / f"{name}_loss.csv"), "--metrics", str(metrics), "--timings", str(timings)],
                   check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return {**json.loads(metrics.read_text()), **json.loads(timings.read_text())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    ap.add_argument("--base-model", type=Path, default=ROOT / "outputs/base_model")
    ap.add_argument("--train", type=Path, default=ROOT / "data/train.jsonl")
    ap.add_argument("--steps", type=int, default=30)
    a = ap.parse_args()
    params = yaml.safe_load(a.params.read_text())
    params["train"]["max_steps"] = a.steps
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, value in (("padded", False), ("padding_free", True)):
            results[name] = run({**params, "train": {**params["train"], "padding_free": value}},
                                a.base_model, a.train, Path(tmp), name)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus; {a.steps} steps, batch "
          f"{params['train']['batch_size']}, rows from {a.train}")
    for name, m in results.items():
        print(f"{name:>12}: {m['train_seconds']:.1f} s, {m['tokens_per_second']:.1f} real tokens/s, "
              f"final loss {m['final_loss']:.4f}")
    base, free = results["padded"], results["padding_free"]
    print(f"padding-free speed: {base['train_seconds'] / free['train_seconds']:.2f}x the padded run; "
          f"final loss difference {abs(base['final_loss'] - free['final_loss']):.4f}")


if __name__ == "__main__":
    main()
