"""How the train stage starts a backend: which one, as its own process (so a CPU run never imports
unsloth), plain or under `accelerate launch` for several GPUs, with the checks that run before any work."""

from __future__ import annotations

from pathlib import Path

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
        raise SystemExit(f"train.accelerate_config: {path} does not exist "
                         "(shipped: configs/accelerate/zero2.yaml, fsdp.yaml)")
    try:
        cfg = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise SystemExit(f"train.accelerate_config: {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(cfg, dict) or "distributed_type" not in cfg:
        raise SystemExit(f"train.accelerate_config: {path} has no distributed_type (write it with `accelerate config`)")
    if cfg["distributed_type"] == "DEEPSPEED":
        if not deepspeed_installed:
            raise SystemExit(f"train.accelerate_config: {path} asks for DeepSpeed, which is not installed "
                             "(pip install deepspeed)")
        ds_file = (cfg.get("deepspeed_config") or {}).get("deepspeed_config_file")
        if ds_file and not Path(ds_file).is_file():
            raise SystemExit(f"train.accelerate_config: {path} names {ds_file}, which does not exist")
