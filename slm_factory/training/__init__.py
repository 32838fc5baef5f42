"""Training in one place. `launch`: which backend, started as its own process (scripts/train.py);
`backends`: model + LoRA setup for TRL+PEFT and unsloth; `data`: rows as prompt/completion pairs;
`steps`: step maths and the SFTConfig; `loop`: the guarded, timed run both backends share;
`outputs`: the adapter, tokenizer, curves and figures it leaves. Nothing here imports torch at import
time. The backend entry points are training/train_<backend>.py at the top of the repository."""
