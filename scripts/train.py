"""train: fine-tune a LoRA adapter on data/train.jsonl with the backend `train.backend` picks.

    python scripts/train.py --params params.yaml --base-model outputs/base_model --train data/train.jsonl \
        --out outputs/adapters/current --loss-csv outputs/train_loss.csv --metrics metrics/train.json

`auto` picks unsloth when CUDA and unsloth are both present, else TRL+PEFT. The backend runs as its
own process (training/train_<backend>.py) with the same arguments, so CPU runs never import unsloth.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from slm_factory.common import get_logger, load_params

log = get_logger("train")
BACKENDS = {"trl": "train_trl_peft.py", "unsloth": "train_unsloth.py"}


def pick_backend(requested: str, cuda: bool, unsloth_installed: bool) -> str:
    if requested == "auto":
        return "unsloth" if cuda and unsloth_installed else "trl"
    if requested not in BACKENDS:
        raise SystemExit(f"train.backend must be auto, trl or unsloth; got {requested!r}")
    if requested == "unsloth" and not (cuda and unsloth_installed):
        raise SystemExit("train.backend=unsloth needs a CUDA GPU and the unsloth package; use trl or auto")
    return requested


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    params = load_params(Path(argv[argv.index("--params") + 1]))
    import torch

    backend = pick_backend(params["train"].get("backend", "auto"), torch.cuda.is_available(),
                           importlib.util.find_spec("unsloth") is not None)
    script = Path(__file__).resolve().parents[1] / "training" / BACKENDS[backend]
    log.info("backend: %s", backend)
    raise SystemExit(subprocess.call([sys.executable, str(script), *argv]))


if __name__ == "__main__":
    main()
