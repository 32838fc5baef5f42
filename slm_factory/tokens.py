"""Token counting under the base model's chat template (for the length gate)."""

from __future__ import annotations

from pathlib import Path


def chat_token_counter(model_dir: str | Path):
    """Returns count(list_of_conversations) -> token counts, rendered with the tokenizer's own template."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))

    def count(conversations: list[list[dict]]) -> list[int]:
        texts = [tok.apply_chat_template(c, tokenize=False) for c in conversations]
        enc = tok(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in enc]

    return count
