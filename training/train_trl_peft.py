"""TRL SFTTrainer + PEFT LoRA backend (CPU or GPU); the train stage's default off CUDA.

    python training/train_trl_peft.py --params params.yaml --base-model outputs/base_model \
        --train data/train.jsonl --out outputs/adapters/current --loss-csv outputs/train_loss.csv \
        --metrics metrics/train.json

Loss is on the assistant tokens only (prompt/completion data). Saves the LoRA adapter and tokenizer.
"""

from __future__ import annotations

from slm_factory.common import get_logger, load_params
from slm_factory.rows import read_rows
from slm_factory.training.backends import LoraSettings, load_trl
from slm_factory.training.data import dev_rows, prompt_completion
from slm_factory.training.loop import parse_args, train_and_finish
from slm_factory.training.steps import sft_config, world_size

log = get_logger("train")
PARAMS = ("lora_rank", "lora_alpha", "learning_rate", "epochs", "train")  # exactly the train stage's params in dvc.yaml


def main(argv: list[str] | None = None) -> None:
    a = parse_args(__doc__, argv)
    params = load_params(a.params, PARAMS)

    import torch
    from datasets import Dataset
    from trl import SFTTrainer

    cuda = torch.cuda.is_available()
    rows = read_rows(a.train)
    model, tok, lora = load_trl(str(a.base_model), LoraSettings.from_params(params))
    dev = dev_rows(a.dev, params.train)
    args, steps = sft_config(params, a.out, len(rows), cuda, n_dev=len(dev))
    trainer = SFTTrainer(model=model, args=args,
                         train_dataset=Dataset.from_list(prompt_completion(rows)), processing_class=tok,
                         eval_dataset=Dataset.from_list(prompt_completion(dev)) if dev else None,
                         peft_config=lora)
    log.info("TRL+PEFT: %d rows, %d steps, rank %s, lr %s, %s", len(rows), steps, params.lora_rank,
             params.learning_rate, f"cuda x{world_size()}" if cuda else f"cpu x{torch.get_num_threads()}")
    metrics = train_and_finish(trainer, tok, a, "trl", len(rows))
    log.info("done: %s", metrics)


if __name__ == "__main__":
    main()
