"""Shared fixtures: the real default specs, and tiny rows built in memory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from slm_factory.rows import make_row  # noqa: E402  # isort: skip  (after the offline switches)
from slm_factory.spec import TaskSpec  # noqa: E402  # isort: skip


ROOT = Path(__file__).resolve().parents[1]

# Property tests: a fixed derivation (the same cases on every run and in CI) and no example database
# (it would write .hypothesis/ into the checkout).
settings.register_profile("repo", database=None, derandomize=True)
settings.load_profile("repo")


@pytest.fixture(scope="session")
def spec() -> TaskSpec:
    return TaskSpec.load(ROOT / "specs")


@pytest.fixture
def row_factory(spec):
    def make(user: str, output, category: str = "create_reminder", data_type: str = "canonical",
             group: str | None = None, system: str | None = None):
        assistant = output if isinstance(output, str) else json.dumps(output, separators=(",", ":"))
        return make_row(system if system is not None else spec.system_prompt, user, assistant, dict(
            category=category, data_type=data_type, difficulty="easy", source="template", batch="batch_001",
            group=group or f"g:{user[:20]}"))
    return make


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    """The bundled model's tokenizer saved as a plain folder (what prepare_base writes, minus weights)."""
    from transformers import AutoTokenizer

    from slm_factory.modeling import BUNDLED, resolve_base, save_tokenizer

    path, gguf = resolve_base(BUNDLED)
    tok = AutoTokenizer.from_pretrained(path, gguf_file=gguf)
    out = tmp_path_factory.mktemp("tok")
    save_tokenizer(tok, out)
    return out


def load_script(name: str):
    """A stage script's module, imported by name (`scripts.<stage>`, `training.<backend>`): tests call
    its main(); scripts never import each other. No work happens at import, so one module serves all.
    `training/` has no __init__.py (a namespace package): the train stage depends on the whole folder,
    and a file added there would rerun training for nothing."""
    import importlib

    return importlib.import_module(f"{'training' if name.startswith('train_') else 'scripts'}.{name}")


def params_with(changes: dict) -> dict:
    """The shipped params.yaml with `changes` merged in (nested dicts merge key by key): stages refuse
    a params file that misses a key they declare, so tests start from the real one."""
    import yaml

    def merge(base: dict, over: dict) -> dict:
        return {**base, **{k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                           for k, v in over.items()}}

    return merge(yaml.safe_load((ROOT / "params.yaml").read_text()), changes)


def typed_params(changes: dict | None = None):
    """params_with(changes), validated whole: the typed `config.Params` a stage function receives."""
    from slm_factory.config import Params

    return Params.model_validate(params_with(changes or {}))


def teacher_config(**changes):
    """The shipped `teacher:` group with `changes`, typed (what make_teacher / llm_teacher take)."""
    return typed_params({"teacher": changes}).teacher


def run_validation(batches, spec, *args, **kwargs):
    """validation.validate_batches unpacked as most tests read it: (accepted rows, {batch: rejected
    records}, orphans), every input batch present in the second."""
    from slm_factory.validation import validate_batches

    ledger, orphans = validate_batches(batches, spec, *args, **kwargs)
    return ledger.kept_rows(), ledger.rejected_parts(list(batches)), orphans


def ledger_of(accepted, rejected: dict):
    """A validate ledger holding these accepted rows and {batch: rejected records}."""
    from slm_factory.ledger import Ledger

    ledger = Ledger("validate")
    for row in accepted:
        ledger.keep(row)
    for batch, recs in rejected.items():
        for rec in recs:
            ledger.reject(rec, batch)
    return ledger


SECRET = "sk-test-DO-NOT-LEAK-4f9a2c"


def params_file(tmp: Path, teacher: dict, n: int) -> Path:
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["n_examples"] = n
    p["teacher"] = {**p["teacher"], "temperature": 0.5, "max_tokens": 512, "concurrency": 4, "rows_per_request": 2,
                    "max_retries": 2, "timeout_s": 5, **teacher}
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    return path


def gen_args(tmp: Path, params: Path) -> list[str]:
    return ["--params", str(params), "--specs", str(ROOT / "specs"), "--cache", str(tmp / "cache"),
            "--out", str(tmp / "data/generated"), "--rejected", str(tmp / "data/rejected/generate.jsonl"),
            "--metrics", str(tmp / "headline/generate.json"), "--details", str(tmp / "metrics/generate.json"),
            "--timings", str(tmp / "metrics/generate_run.json")]


def gen_figures(tmp: Path) -> dict:
    """generate's figures of the data and of the run (requests asked, cache hits) together."""
    return {**json.loads((tmp / "metrics/generate.json").read_text()),
            **json.loads((tmp / "metrics/generate_run.json").read_text())}


def rejected_codes(tmp: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (tmp / "data/rejected/generate.jsonl").read_text().splitlines():
        for r in json.loads(line)["reasons"]:
            out[r["code"]] = out.get(r["code"], 0) + 1
    return out


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def broken_copy(tokenizer_dir, dst):
    """The tokenizer as transformers 5.17 converted SmolLM2: bos = eos = pad = <|im_start|>."""
    shutil.copytree(tokenizer_dir, dst)
    cfg = json.loads((dst / "tokenizer_config.json").read_text())
    cfg.update(eos_token="<|im_start|>", pad_token="<|im_start|>", bos_token="<|im_start|>")
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg))
    return dst


def tiny_model_dir(tokenizer_dir, dst):
    """A random 2-layer Llama with the bundled tokenizer: trains in seconds on CPU."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256)
    LlamaForCausalLM(cfg).save_pretrained(dst)
    tok.save_pretrained(dst)
    return dst


def trainable_model_dir(tokenizer_dir, tmp_path):
    """tiny_model_dir with the tokenizer's EOS and pad set to the end-of-turn token, as prepare_base writes it:
    the train stage refuses any other (modeling.check_special_tokens)."""
    from transformers import AutoTokenizer

    from slm_factory.modeling import fix_special_tokens

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    fix_special_tokens(tok)
    tok.save_pretrained(tmp_path / "tok")
    return tiny_model_dir(tmp_path / "tok", tmp_path / "base")


def train_argv(tmp_path, base, row_factory, lr=1e-3, eval_every=0):
    rows = [row_factory(f"remind me to call mum at {h}pm", {"tool": "create_reminder", "arguments": {
        "text": "call mum", "date": "today", "time": f"{h + 12}:00"}}) for h in range(1, 9)]
    (tmp_path / "train.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows))
    params = params_with({"seed": 1, "lora_rank": 4, "lora_alpha": 8, "learning_rate": lr, "epochs": 1,
              "train": {"backend": "trl", "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"],
                        "batch_size": 4, "grad_accum": 1, "max_seq_length": 128, "packing": False,
                        "group_by_length": False, "padding_free": False, "gradient_checkpointing": False,
                        "load_in_4bit": False, "num_gpus": 1, "max_steps": 3, "warmup_ratio": 0.0, "seed": 1,
                        "eval_every": eval_every, "eval_rows": 4}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return ["--params", str(tmp_path / "params.yaml"), "--base-model", str(base), "--train",
            str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "adapter"), "--loss-csv",
            str(tmp_path / "loss.csv"), "--metrics", str(tmp_path / "train.json"), "--dev", str(tmp_path / "train.jsonl"),
            "--dev-curve", str(tmp_path / "dev_curve.csv")]
