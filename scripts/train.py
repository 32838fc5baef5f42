"""train: fine-tune a LoRA adapter on data/train.jsonl with the backend `train.backend` picks.

    python scripts/train.py --params params.yaml --base-model outputs/base_model --train data/train.jsonl \
        --out outputs/adapters/current --loss-csv outputs/train_loss.csv --metrics metrics/train.json

`auto` picks unsloth when CUDA and unsloth are both present, else TRL+PEFT. The backend runs as its
own process (training/train_<backend>.py) with the same arguments, so CPU runs never import unsloth.
`train.num_gpus` > 1 runs the TRL backend under `accelerate launch` (DDP, one process per GPU;
`train.batch_size` is per GPU), or with `train.accelerate_config` (an `accelerate config` file:
configs/accelerate/zero2.yaml for DeepSpeed ZeRO-2, fsdp.yaml for FSDP) instead of plain DDP. The
config file's content is not a DVC dependency (it is only read when named): after editing one in use,
`dvc repro -f train`. `train.soup_seeds` (two or more seeds) trains the recipe once per seed and writes the
mean of their adapters (slm_factory/training/soup.py; the curves and headline figures are the first seed's).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from slm_factory.common import get_logger, load_params
from slm_factory.training.launch import (BACKENDS, check_accelerate_config, check_gpus, launch_command, pick_backend,
                                         process_env)
from slm_factory.training.soup import train_soup

log = get_logger("train")
PARAMS = ("lora_rank", "lora_alpha", "learning_rate", "epochs", "train")  # exactly the stage's params in dvc.yaml


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Only --params is read here; every flag goes on to the backend, whose --help lists them all.
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], add_help=False)
    ap.add_argument("--params", type=Path, help="params.yaml (picks the backend; the backend reads the rest)")
    known, _ = ap.parse_known_args(argv)
    if known.params is None:
        if {"-h", "--help"} & set(argv):
            print(__doc__ + "\nThe flags are the backend's: `python scripts/train.py --params params.yaml --help`.")
            return
        ap.error("--params is required")
    params = load_params(known.params, PARAMS)
    import torch

    cfg = params.train
    num_gpus = cfg.num_gpus
    requested = cfg.backend
    if requested == "auto" and num_gpus > 1:
        requested = "trl"  # the multi-GPU engine
    backend = pick_backend(requested, torch.cuda.is_available(), importlib.util.find_spec("unsloth") is not None)
    check_gpus(backend, num_gpus, torch.cuda.device_count())
    check_accelerate_config(cfg.accelerate_config, importlib.util.find_spec("deepspeed") is not None)
    script = Path(__file__).resolve().parents[1] / "training" / BACKENDS[backend]
    env = process_env(dict(os.environ), num_gpus, torch.cuda.device_count())
    if cfg.soup_seeds:
        log.info("backend: %s, an adapter soup of seeds %s", backend, cfg.soup_seeds)
        train_soup(argv, cfg.soup_seeds, lambda args: launch_command(sys.executable, script, args, 1, None), env,
                   side_by_side=torch.cuda.is_available())
        return
    cmd = launch_command(sys.executable, script, argv, num_gpus, cfg.accelerate_config)
    log.info("backend: %s%s", backend, f" on {num_gpus} GPUs" if num_gpus > 1 else "")
    raise SystemExit(subprocess.call(cmd, env=env))


if __name__ == "__main__":
    main()
