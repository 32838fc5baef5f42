"""Shared fixtures: the real default specs, and tiny rows built in memory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from slm_factory.rows import make_row  # noqa: E402
from slm_factory.spec import TaskSpec  # noqa: E402

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
