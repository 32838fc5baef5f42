"""Training backends on CUDA: unsloth (LoRA and QLoRA), TRL+PEFT, and TRL under `accelerate launch`.

Marked `gpu` and skipped without CUDA (CPU CI never imports unsloth). On a GPU machine:
    SLM_TEST_TOKENIZER=outputs/base_model pytest -m gpu tests/test_gpu.py
The base model is the bundled model's architecture with random weights (built from the config in
SLM_TEST_TOKENIZER), so nothing is downloaded; these tests check that each backend trains, saves a
PEFT adapter, and that the eval stage's loader generates with it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

torch = pytest.importorskip("torch")
CUDA = torch.cuda.is_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")]
HAS_UNSLOTH = importlib.util.find_spec("unsloth") is not None


@pytest.fixture(scope="module")
def random_base(tmp_path_factory) -> Path:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    src = Path(os.environ.get("SLM_TEST_TOKENIZER", ROOT / "outputs/base_model"))
    if not (src / "config.json").exists():
        pytest.skip(f"no tokenizer/config folder at {src} (set SLM_TEST_TOKENIZER)")
    out = tmp_path_factory.mktemp("base")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(src), dtype=torch.bfloat16)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(src).save_pretrained(out)
    return out


def train(tmp_path: Path, base: Path, rows: list, **train_keys) -> tuple[Path, dict]:
    from slm_factory.rows import write_jsonl

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update(max_steps=6, batch_size=4, **train_keys)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    write_jsonl(tmp_path / "train.jsonl", rows)
    out, metrics = tmp_path / "adapter", tmp_path / "train.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "UNSLOTH_DISABLE_STATISTICS": "1"}
    p = subprocess.run([sys.executable, str(ROOT / "scripts/train.py"), "--params", str(tmp_path / "params.yaml"),
                        "--base-model", str(base), "--train", str(tmp_path / "train.jsonl"), "--out", str(out),
                        "--loss-csv", str(tmp_path / "loss.csv"), "--metrics", str(tmp_path / "headline.json"),
                        "--details", str(metrics)],
                       env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    return out, json.loads(metrics.read_text())


@pytest.fixture
def rows(row_factory):
    users = ["remind me to call mum at 6pm", "what's the weather in Oslo", "play some jazz",
             "set a timer for 10 minutes", "tell me a joke", "email Sam the report"]
    return [row_factory(u, {"tool": None, "arguments": {}}, category="no_tool") for u in users] * 4


def generates_with(base: Path, adapter: Path) -> None:
    from slm_factory import modeling

    model, tok = modeling.load(base, adapter)
    assert next(model.parameters()).is_cuda
    prompts = [modeling.render(tok, [{"role": "user", "content": f"hello {i}"}]) for i in range(5)]
    g = modeling.generate(model, tok, prompts, 8, 4, stop_when_decided=False, min_new_tokens=8)
    assert len(g.texts) == 5 and g.new_tokens == 40


@pytest.mark.skipif(not HAS_UNSLOTH, reason="unsloth not installed")
@pytest.mark.parametrize("qlora", [False, True], ids=["lora", "qlora"])
def test_unsloth_backend_trains_and_eval_loads_its_adapter(tmp_path, random_base, rows, qlora):
    adapter, metrics = train(tmp_path, random_base, rows, backend="unsloth", load_in_4bit=qlora)
    assert metrics["backend"] == "unsloth" and metrics["steps"] == 6
    assert (adapter / "adapter_config.json").exists()
    assert metrics["final_loss"] is not None and metrics["final_loss"] == metrics["final_loss"]  # not NaN
    generates_with(random_base, adapter)


def test_trl_backend_on_gpu(tmp_path, random_base, rows):
    adapter, metrics = train(tmp_path, random_base, rows, backend="trl")
    assert metrics["backend"] == "trl" and metrics["processes"] == 1
    generates_with(random_base, adapter)


@pytest.mark.skipif(CUDA and torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_trl_backend_under_accelerate_on_two_gpus(tmp_path, random_base, rows):
    adapter, metrics = train(tmp_path, random_base, rows, backend="trl", num_gpus=2)
    assert metrics["processes"] == 2 and metrics["steps"] == 6
    generates_with(random_base, adapter)
