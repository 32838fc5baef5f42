"""Token counting under the base model's chat template (for the length gate)."""

from __future__ import annotations

from pathlib import Path


def chat_token_counter(model_dir: str | Path, margin: int = 32):
    """Returns count(conversations, exact_above=None) -> token counts.

    With `exact_above`, a count is exact wherever it matters: for every conversation within `margin`
    of the limit or over it. A conversation whose upper bound (the template's tokens plus each
    content's normalised UTF-8 bytes + 1) is already below `exact_above - margin` is not tokenised at
    all, and that bound is its count: below the limit, like the true one.

    Otherwise: the template's own tokens (rendered once per role pattern, with empty contents) plus
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

    normalizer = getattr(backend, "normalizer", None)

    def byte_bound(text: str) -> int:
        # No token is shorter than one byte of the normalised text, and a tokenizer may add one piece
        # in front (SentencePiece's dummy prefix): bytes + 1 bounds the tokens of any text.
        if normalizer is not None:
            text = normalizer.normalize_str(text)
        return len(text.encode("utf-8", "surrogatepass")) + 1

    def count(conversations: list[list[dict]], exact_above: int | None = None) -> list[int]:
        out: list[int | None] = [None] * len(conversations)
        todo = list(range(len(conversations)))
        if exact_above is not None:  # rows whose upper bound is far below the limit need no tokenising
            todo = []
            for i, c in enumerate(conversations):
                bound = template_tokens(c) + sum(byte_bound(m["content"]) for m in c)
                if bound < exact_above - margin:
                    out[i] = bound
                else:
                    todo.append(i)
        lens = content_lengths([m["content"] for i in todo for m in conversations[i]])
        k = 0
        for i in todo:
            c = conversations[i]
            est = template_tokens(c) + sum(lens[k:k + len(c)])
            k += len(c)
            out[i] = exact(c) if exact_above is not None and est >= exact_above - margin else est
        return out

    def template_tokens(conv: list[dict]) -> int:
        roles = tuple(m["role"] for m in conv)
        if roles not in overhead:
            overhead[roles] = exact([{"role": r, "content": ""} for r in roles])
        return overhead[roles]

    return count
