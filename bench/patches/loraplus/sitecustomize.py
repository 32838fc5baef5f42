"""Experiment patch (docs/quality.md, Round 10): LoRA+ (Hayou et al., 2024) for the TRL backend.

On PYTHONPATH with LORAPLUS_RATIO set, SFTTrainer builds its optimizer with PEFT's
`create_loraplus_optimizer`: the LoRA B matrices learn LORAPLUS_RATIO times faster than the A matrices
(whose rate is the recipe's learning_rate). Without the variable nothing is patched.
"""
import os
import sys

if os.environ.get("LORAPLUS_RATIO"):
    import torch
    import trl
    from peft.optimizers import create_loraplus_optimizer

    _RATIO = float(os.environ["LORAPLUS_RATIO"])

    def create_optimizer(self, *args, **kwargs):
        if self.optimizer is None:
            self.optimizer = create_loraplus_optimizer(
                model=self.model, optimizer_cls=torch.optim.AdamW, lr=self.args.learning_rate,
                loraplus_lr_ratio=_RATIO, weight_decay=self.args.weight_decay)
            print(f"LoRA+ optimizer: ratio {_RATIO}, groups "
                  f"{[(len(g['params']), g['lr']) for g in self.optimizer.param_groups]}", file=sys.stderr)
        return self.optimizer

    trl.SFTTrainer.create_optimizer = create_optimizer
