"""What a backend trains on: rows as prompt/completion pairs, and the fixed dev subset."""

from __future__ import annotations

from pathlib import Path

from ..config import Train
from ..rows import Row


def prompt_completion(rows: list[Row]) -> list[dict]:
    """Conversational prompt/completion pairs: TRL puts the loss on the completion (assistant) only,
    and renders both with the tokenizer's own chat template, exactly as eval renders prompts."""
    return [{"prompt": r.prompt, "completion": [r.messages[-1].chat()]} for r in rows]


def dev_rows(path: Path | None, cfg: Train) -> list[Row]:
    """The fixed dev subset scored during training (`train.eval_rows` first rows; none when
    `train.eval_every` is 0 or no dev file is given): a learning curve on held-out phrasings."""
    from ..rows import read_rows

    if path is None or cfg.eval_every <= 0:
        return []
    return read_rows(path)[:cfg.eval_rows]
