"""TRL SFTTrainer + PEFT LoRA backend (CPU or GPU); the train stage's default off CUDA.

    python training/train_trl_peft.py --params params.yaml --base-model outputs/base_model \
        --train data/train.jsonl --out outputs/adapters/current --loss-csv outputs/train_loss.csv \
        --metrics metrics/train.json

Loss is on the assistant tokens only (prompt/completion data). Saves the LoRA adapter and tokenizer.
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
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    torch.manual_seed(int(cfg["seed"]))
    cuda = torch.cuda.is_available()
    rows = read_rows(a.train)
    tok = AutoTokenizer.from_pretrained(str(a.base_model))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model_kw = {"dtype": torch.bfloat16 if cuda else torch.float32}
    if cfg.get("load_in_4bit"):
        if not cuda:
            raise SystemExit("train.load_in_4bit needs CUDA (bitsandbytes); set it to false on CPU")
        from transformers import BitsAndBytesConfig
        model_kw["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(str(a.base_model), **model_kw)
    args, steps = sft_config(params, a.out, len(rows), cuda)
    lora = LoraConfig(r=int(params["lora_rank"]), lora_alpha=int(params["lora_alpha"]),
                      lora_dropout=float(cfg["lora_dropout"]), target_modules=list(cfg["target_modules"]),
                      task_type="CAUSAL_LM", bias="none")
    trainer = SFTTrainer(model=model, args=args,
                         train_dataset=Dataset.from_list(prompt_completion(rows)), processing_class=tok,
                         peft_config=lora)
    log.info("TRL+PEFT: %d rows, %d steps, rank %s, lr %s, %s", len(rows), steps, params["lora_rank"],
             params["learning_rate"], "cuda" if cuda else f"cpu x{torch.get_num_threads()}")
    t0 = time.perf_counter()
    trainer.train()
    metrics = finish(trainer, tok, a.out, a.loss_csv, a.metrics, "trl", time.perf_counter() - t0, len(rows))
    log.info("done: %s", metrics)


if __name__ == "__main__":
    main()
