"""unsloth backend (CUDA only): FastLanguageModel LoRA / QLoRA with TRL's SFTTrainer.

    python training/train_unsloth.py --params params.yaml --base-model outputs/base_model \
        --train data/train.jsonl --out outputs/adapters/current --loss-csv outputs/train_loss.csv \
        --metrics metrics/train.json

Same data, loss masking, LoRA params and outputs as the TRL backend; `train.load_in_4bit` selects
QLoRA. The adapter it saves is a regular PEFT adapter, so eval loads it the same way.
"""

from __future__ import annotations

from slm_factory.common import get_logger, load_params
from slm_factory.rows import read_rows
from slm_factory.training.backends import LoraSettings, keep_unsloth_padded, load_unsloth
from slm_factory.training.data import dev_rows, prompt_completion
from slm_factory.training.loop import parse_args, train_and_finish
from slm_factory.training.steps import padding_free, sft_config

log = get_logger("train")
PARAMS = ("lora_rank", "lora_alpha", "learning_rate", "epochs", "train")  # exactly the train stage's params in dvc.yaml


def main(argv: list[str] | None = None) -> None:
    a = parse_args(__doc__, argv)
    params = load_params(a.params, PARAMS)
    cfg = params.train

    import torch

    if not torch.cuda.is_available():
        raise SystemExit("the unsloth backend needs a CUDA GPU; use train.backend: trl (or auto)")
    lora = LoraSettings.from_params(params)
    if padding_free(cfg.padding_free, cuda=True) is False:
        keep_unsloth_padded()
    model, tok = load_unsloth(str(a.base_model), lora, cfg.max_seq_length)  # imports unsloth first
    from datasets import Dataset
    from trl import SFTTrainer

    rows = read_rows(a.train)
    dev = dev_rows(a.dev, cfg)
    args, steps = sft_config(params, a.out, len(rows), True, n_dev=len(dev))
    trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=Dataset.from_list(prompt_completion(rows)),
                         eval_dataset=Dataset.from_list(prompt_completion(dev)) if dev else None, args=args)
    log.info("unsloth: %d rows, %d steps, rank %s, 4bit=%s", len(rows), steps, lora.rank, lora.load_in_4bit)
    metrics = train_and_finish(trainer, tok, a, "unsloth", len(rows))
    log.info("done: %s", metrics)


if __name__ == "__main__":
    main()
