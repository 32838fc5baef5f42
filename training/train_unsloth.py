"""unsloth backend (CUDA only): FastLanguageModel LoRA / QLoRA with TRL's SFTTrainer.

    python training/train_unsloth.py --params params.yaml --base-model outputs/base_model \
        --train data/train.jsonl --out outputs/adapters/current --loss-csv outputs/train_loss.csv \
        --metrics metrics/train.json

Same data, loss masking, LoRA params and outputs as the TRL backend; `train.load_in_4bit` selects
QLoRA. The adapter it saves is a regular PEFT adapter, so eval loads it the same way.
"""

from __future__ import annotations

import time

from slm_factory.common import get_logger, load_params
from slm_factory.rows import read_rows
from slm_factory.train_common import finish, parse_args, prompt_completion, sft_config

log = get_logger("train")


def main(argv: list[str] | None = None) -> None:
    a = parse_args(__doc__, argv)
    params = load_params(a.params)
    cfg = params["train"]

    import torch

    if not torch.cuda.is_available():
        raise SystemExit("the unsloth backend needs a CUDA GPU; use train.backend: trl (or auto)")
    import unsloth  # noqa: F401  (must be imported before transformers/trl to patch them)
    from datasets import Dataset
    from trl import SFTTrainer
    from unsloth import FastLanguageModel

    rows = read_rows(a.train)
    model, tok = FastLanguageModel.from_pretrained(
        model_name=str(a.base_model), max_seq_length=int(cfg["max_seq_length"]), dtype=None,
        load_in_4bit=bool(cfg.get("load_in_4bit", False)))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = FastLanguageModel.get_peft_model(
        model, r=int(params["lora_rank"]), lora_alpha=int(params["lora_alpha"]),
        lora_dropout=float(cfg["lora_dropout"]), target_modules=list(cfg["target_modules"]), bias="none",
        use_gradient_checkpointing="unsloth" if cfg.get("gradient_checkpointing") else False,
        random_state=int(cfg["seed"]))
    args, steps = sft_config(params, a.out, len(rows), True)
    trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=Dataset.from_list(prompt_completion(rows)),
                         args=args)
    log.info("unsloth: %d rows, %d steps, rank %s, 4bit=%s", len(rows), steps, params["lora_rank"],
             cfg.get("load_in_4bit"))
    t0 = time.perf_counter()
    trainer.train()
    metrics = finish(trainer, tok, a.out, a.loss_csv, a.metrics, "unsloth", time.perf_counter() - t0, len(rows))
    log.info("done: %s", metrics)


if __name__ == "__main__":
    main()
