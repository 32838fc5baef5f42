"""train: fine-tune a LoRA adapter on data/train.jsonl with the backend `train.backend` picks.

    python scripts/train.py --params params.yaml --base-model outputs/base_model --train data/train.jsonl \
        --out outputs/adapters/current --loss-csv outputs/train_loss.csv --metrics metrics/train.json

`auto` picks unsloth when CUDA and unsloth are both present, else TRL+PEFT. The backend runs as its
own process (training/train_<backend>.py) with the same arguments, so CPU runs never import unsloth.
`train.num_gpus` > 1 runs the TRL backend under `accelerate launch` (DDP, one process per GPU;
`train.batch_size` is per GPU), or with `train.accelerate_config` (an `accelerate config` file:
configs/accelerate/zero2.yaml for DeepSpeed ZeRO-2, fsdp.yaml for FSDP) instead of plain DDP. The
config file's content is not a DVC dependency (it is only read when named): after editing one in use,
`dvc repro -f train`.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from slm_factory.common import get_logger, load_params

log = get_logger("train")
PARAMS = ("lora_rank", "lora_alpha", "learning_rate", "epochs", "train")  # exactly the stage's params in dvc.yaml
BACKENDS = {"trl": "train_trl_peft.py", "unsloth": "train_unsloth.py"}


def pick_backend(requested: str, cuda: bool, unsloth_installed: bool) -> str:
    if requested == "auto":
        return "unsloth" if cuda and unsloth_installed else "trl"
    if requested not in BACKENDS:
        raise SystemExit(f"train.backend must be auto, trl or unsloth; got {requested!r}")
    if requested == "unsloth" and not (cuda and unsloth_installed):
        raise SystemExit("train.backend=unsloth needs a CUDA GPU and the unsloth package; use trl or auto")
    return requested


def launch_command(python: str, script: Path, argv: list[str], num_gpus: int,
                   accelerate_config: str | None) -> list[str]:
    """The backend's command line: plain python for one process, `accelerate launch` for several."""
    if num_gpus <= 1 and not accelerate_config:
        return [python, str(script), *argv]
    cmd = [python, "-m", "accelerate.commands.launch", "--num_processes", str(max(1, num_gpus))]
    cmd += ["--config_file", accelerate_config] if accelerate_config else ["--multi_gpu"]
    return [*cmd, str(script), *argv]


def process_env(env: dict, num_gpus: int, visible: int) -> dict:
    """One-GPU runs on a machine with several see only the first: HF Trainer would otherwise wrap the
    model in nn.DataParallel, which TRL's SFTTrainer refuses."""
    if num_gpus <= 1 and visible > 1 and "CUDA_VISIBLE_DEVICES" not in env:
        return {**env, "CUDA_VISIBLE_DEVICES": "0"}
    return dict(env)


def check_gpus(backend: str, num_gpus: int, visible: int) -> None:
    if num_gpus <= 1:
        return
    if backend != "trl":
        raise SystemExit(f"train.num_gpus={num_gpus} needs train.backend: trl (unsloth trains on one GPU)")
    if num_gpus > visible:
        raise SystemExit(f"train.num_gpus={num_gpus} but only {visible} CUDA device(s) are visible")


def check_accelerate_config(path: str | None, deepspeed_installed: bool) -> None:
    """A one-line error before any work: a config file that is missing, not an `accelerate config`
    mapping, or asks for DeepSpeed where it is not installed, or names a DeepSpeed file that is missing.
    (The shipped ones: configs/accelerate/zero2.yaml, fsdp.yaml.)"""
    if not path:
        return
    import yaml

    p = Path(path)
    if not p.is_file():
        raise SystemExit(f"train.accelerate_config: {path} does not exist (shipped: configs/accelerate/zero2.yaml, fsdp.yaml)")
    try:
        cfg = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise SystemExit(f"train.accelerate_config: {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(cfg, dict) or "distributed_type" not in cfg:
        raise SystemExit(f"train.accelerate_config: {path} has no distributed_type (write it with `accelerate config`)")
    if cfg["distributed_type"] == "DEEPSPEED":
        if not deepspeed_installed:
            raise SystemExit(f"train.accelerate_config: {path} asks for DeepSpeed, which is not installed (pip install deepspeed)")
        ds_file = (cfg.get("deepspeed_config") or {}).get("deepspeed_config_file")
        if ds_file and not Path(ds_file).is_file():
            raise SystemExit(f"train.accelerate_config: {path} names {ds_file}, which does not exist")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    params = load_params(Path(argv[argv.index("--params") + 1]), PARAMS)
    import torch

    cfg = params["train"]
    num_gpus = int(cfg.get("num_gpus", 1) or 1)
    requested = cfg.get("backend", "auto")
    if requested == "auto" and num_gpus > 1:
        requested = "trl"  # the multi-GPU engine
    backend = pick_backend(requested, torch.cuda.is_available(), importlib.util.find_spec("unsloth") is not None)
    check_gpus(backend, num_gpus, torch.cuda.device_count())
    check_accelerate_config(cfg.get("accelerate_config"), importlib.util.find_spec("deepspeed") is not None)
    script = Path(__file__).resolve().parents[1] / "training" / BACKENDS[backend]
    cmd = launch_command(sys.executable, script, argv, num_gpus, cfg.get("accelerate_config"))
    log.info("backend: %s%s", backend, f" on {num_gpus} GPUs" if num_gpus > 1 else "")
    raise SystemExit(subprocess.call(cmd, env=process_env(dict(os.environ), num_gpus, torch.cuda.device_count())))


if __name__ == "__main__":
    main()
