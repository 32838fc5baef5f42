"""Token counting under the base model's chat template (for the length gate)."""

from __future__ import annotations

from pathlib import Path


def chat_token_counter(model_dir: str | Path, margin: int = 32):
    """Returns count(conversations, exact_above=None) -> token counts.

    Fast path: the template's own tokens (rendered once per role pattern, with empty contents) plus
    each message's content tokens, all contents in one batched encode. Token merges across a
    content's edges can make that differ from the real rendering by a token or two, so any
    conversation whose estimate is within `margin` of `exact_above` is rendered with the tokenizer's
    chat template and counted exactly: the gate's decision is exact, and only near-limit rows pay.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    overhead: dict[tuple[str, ...], int] = {}

    def exact(conv: list[dict]) -> int:
        return len(tok(tok.apply_chat_template(conv, tokenize=False), add_special_tokens=False)["input_ids"])

    # The Rust tokenizer's own batch call, without offsets: the same ids as `tok(flat)`, at a third
    # of the time (transformers' conversion of every encoding to Python lists was most of the cost).
    backend = getattr(tok, "backend_tokenizer", None)
    fast = getattr(backend, "encode_batch_fast", None)

    def content_lengths(flat: list[str]) -> list[int]:
        # Each distinct text once: every row of a task repeats the same system prompt, its longest part.
        distinct = list(dict.fromkeys(flat))
        if not distinct:
            return []
        if fast is not None:
            lens = [len(e) for e in fast(distinct, add_special_tokens=False)]
        else:
            lens = [len(ids) for ids in tok(distinct, add_special_tokens=False)["input_ids"]]
        by_text = dict(zip(distinct, lens))
        return [by_text[t] for t in flat]

    def count(conversations: list[list[dict]], exact_above: int | None = None) -> list[int]:
        flat = [m["content"] for c in conversations for m in c]
        lens = content_lengths(flat)
        out, k = [], 0
        for c in conversations:
            roles = tuple(m["role"] for m in c)
            if roles not in overhead:
                overhead[roles] = exact([{"role": r, "content": ""} for r in roles])
            est = overhead[roles] + sum(lens[k:k + len(c)])
            k += len(c)
            out.append(exact(c) if exact_above is not None and est >= exact_above - margin else est)
        return out

    return count
