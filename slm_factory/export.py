"""Shipping the specialist: the adapter merged into the base weights, GGUF files made by llama.cpp's own
converter and quantizer, an Ollama Modelfile, and the same eval run on every exported artifact.

Nothing here writes GGUF by hand: `convert_hf_to_gguf.py` (from the llama-cpp-python source distribution
`make setup` unpacks) converts the merged model, and the compiled llama.cpp in `llama_cpp` quantizes
it and runs it, reading the chat template and the stop tokens from the GGUF file itself.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .metrics import Scored, score_row
from .rows import Row
from .spec import TaskSpec


class ExportError(RuntimeError):
    """An export step failed; the message says which and why."""


def quant_types() -> dict[str, int]:
    """{name: llama.cpp file type} for every quantization the installed llama.cpp offers (q8_0, q4_k_m, ...)."""
    import llama_cpp

    prefix = "LLAMA_FTYPE_MOSTLY_"
    return {k[len(prefix):].lower(): int(getattr(llama_cpp, k)) for k in dir(llama_cpp)
            if k.startswith(prefix) and isinstance(getattr(llama_cpp, k), int)}


def check_quantizations(names: list[str]) -> None:
    known = quant_types()
    bad = [n for n in names if n not in known]
    if bad:
        raise ExportError(f"export.quantizations: unknown {bad}; llama.cpp offers {sorted(known)}")


def merge(base_dir: Path, adapter_dir: Path, out: Path) -> None:
    """Base + LoRA adapter -> one plain model folder (safetensors, tokenizer, chat template, generation
    config with the end-of-turn token as EOS and pad) that transformers loads without peft."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .modeling import fix_special_tokens, save_tokenizer

    if not (adapter_dir / "adapter_config.json").exists():
        raise ExportError(f"no adapter in {adapter_dir} (adapter_config.json missing): run the train stage first")
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    tok = AutoTokenizer.from_pretrained(base_dir)
    fix_special_tokens(tok, model)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    save_tokenizer(tok, tmp)
    _replace(tmp, out)


def _replace(tmp: Path, out: Path) -> None:
    """Move a finished output into place: a failed step never leaves a half-written artifact behind."""
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    tmp.rename(out)


def convert(merged: Path, out_file: Path, llama_cpp_dir: Path) -> None:
    """f16 GGUF with llama.cpp's converter (its own gguf-py, as llama.cpp ships them together)."""
    script = llama_cpp_dir / "convert_hf_to_gguf.py"
    if not script.exists():
        raise ExportError(f"{script} not found: `make setup` unpacks llama.cpp's converter there")
    tmp = out_file.with_name(out_file.name + ".tmp")
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}  # its own gguf-py, not PyPI's
    p = subprocess.run([sys.executable, str(script), str(merged), "--outfile", str(tmp), "--outtype", "f16"],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        tmp.unlink(missing_ok=True)
        raise ExportError(f"llama.cpp's converter failed on {merged}: {' | '.join(tail)}")
    _replace(tmp, out_file)


def quantize(src: Path, dst: Path, name: str) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = quant_types()[name]
    tmp = dst.with_name(dst.name + ".tmp")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"llama.cpp could not quantize {src} to {name} (code {rc})")
    _replace(tmp, dst)


SYSTEM_MARK, PROMPT_MARK = "\u2063SYSTEM\u2063", "\u2063PROMPT\u2063"


def ollama_template(tok) -> str:
    """The model's chat template for one system + one user turn with the assistant turn opened, as an
    Ollama Go template: rendering it with {{ .System }} and {{ .Prompt }} gives exactly what
    `apply_chat_template(..., add_generation_prompt=True)` gives."""
    text = tok.apply_chat_template([{"role": "system", "content": SYSTEM_MARK},
                                    {"role": "user", "content": PROMPT_MARK}],
                                   tokenize=False, add_generation_prompt=True)
    if text.count(SYSTEM_MARK) != 1 or text.count(PROMPT_MARK) != 1:
        raise ExportError("the chat template does not place one system and one user message verbatim")
    if "{{" in text or "}}" in text:
        raise ExportError("the chat template's own text holds '{{' or '}}', which Go templates would parse")
    return text.replace(SYSTEM_MARK, "{{ .System }}").replace(PROMPT_MARK, "{{ .Prompt }}")


def modelfile(tok, gguf_name: str, system_prompt: str, stops: list[str]) -> str:
    def quoted(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"FROM ./gguf/{gguf_name}", f'TEMPLATE """{ollama_template(tok)}"""',
             f'SYSTEM """{system_prompt}"""', "PARAMETER temperature 0", "PARAMETER top_p 1"]
    lines += [f"PARAMETER stop {quoted(s)}" for s in stops]
    return "\n".join(lines) + "\n"


def stop_tokens(tok) -> list[str]:
    """Every token that ends a turn: the chat template's end-of-turn token and the tokenizer's EOS."""
    from .modeling import end_of_turn_token

    return list(dict.fromkeys(t for t in (end_of_turn_token(tok), tok.eos_token) if t))


def gguf_metadata(path: Path) -> dict:
    """Chat template and EOS token as the GGUF file stores them (what llama.cpp and Ollama will use)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))

    def field(name: str):
        f = reader.fields.get(name)
        if f is None:
            return None
        return f.contents() if hasattr(f, "contents") else bytes(f.parts[f.data[0]]).decode()

    tokens = field("tokenizer.ggml.tokens")
    eos_id = field("tokenizer.ggml.eos_token_id")
    return {"chat_template": field("tokenizer.chat_template"), "eos_token_id": eos_id,
            "eos_token": tokens[eos_id] if tokens is not None and eos_id is not None else None,
            "architecture": field("general.architecture")}


# --- running an exported artifact ---------------------------------------------------------------

@dataclass
class ArtifactRun:
    scored: dict[str, list[Scored]]
    seconds: float
    new_tokens: int
    runaway: int  # rows that stopped at max_new_tokens instead of ending their turn
    peak_rss_mb: float


def _reset_peak_rss() -> None:
    try:  # Linux: "5" resets VmHWM, so each artifact's peak is its own
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _load_llama(path: Path, n_threads: int | None):
    """llama.cpp without its "extra" CPU buffer types: on this project's CPU machine (Intel AMX) the AMX
    repacking of q8_0/q4_k_m weights segfaulted at the first token (llama-cpp-python 0.3.36), and the
    Llama constructor exposes no switch, so the default model params are patched while it loads."""
    import llama_cpp
    import llama_cpp.llama as ll

    default = ll.llama_cpp.llama_model_default_params

    def without_extra_buffers():
        params = default()
        params.use_extra_bufts = False
        return params

    ll.llama_cpp.llama_model_default_params = without_extra_buffers
    try:
        return llama_cpp.Llama(model_path=str(path), n_ctx=1024, n_threads=n_threads, verbose=False, seed=0)
    finally:
        ll.llama_cpp.llama_model_default_params = default


def run_gguf(path: Path, sets: dict[str, list[Row]], spec: TaskSpec, max_new_tokens: int,
             n_threads: int | None = None) -> ArtifactRun:
    """Greedy chat completions with llama.cpp; the chat template and stop tokens come from the GGUF."""
    _reset_peak_rss()
    llm = _load_llama(path, n_threads)
    scored: dict[str, list[Scored]] = {}
    seconds, tokens, runaway = 0.0, 0, 0
    for name, rows in sets.items():
        out = []
        for r in rows:
            t0 = time.perf_counter()
            res = llm.create_chat_completion(
                messages=[{"role": "system", "content": spec.system_prompt}, *r.prompt[1:]],
                temperature=0.0, top_k=1, top_p=1.0, max_tokens=max_new_tokens)
            seconds += time.perf_counter() - t0
            tokens += res["usage"]["completion_tokens"]
            runaway += res["choices"][0]["finish_reason"] == "length"
            out.append(score_row(r, (res["choices"][0]["message"]["content"] or "").strip(), spec, name))
        scored[name] = out
    del llm
    return ArtifactRun(scored, seconds, tokens, runaway, _peak_rss_mb())


def run_transformers(model_dir: Path, sets: dict[str, list[Row]], spec: TaskSpec, max_new_tokens: int,
                     batch_size: int) -> ArtifactRun:
    """The merged model with plain transformers (no peft), batched greedy decoding exactly as eval does. A
    row that does not end its turn with EOS (it hit the token limit, or eval's early stop cut off text
    running on after a complete answer) counts as runaway."""
    from . import modeling
    from .evaluation import messages_for

    _reset_peak_rss()
    model, tok = modeling.load(model_dir)
    scored: dict[str, list[Scored]] = {}
    seconds, tokens, runaway = 0.0, 0, 0
    for name, rows in sets.items():
        prompts = [modeling.render(tok, messages_for(r, spec.system_prompt)) for r in rows]
        gen = modeling.generate(model, tok, prompts, max_new_tokens, batch_size)
        seconds, tokens, runaway = seconds + gen.seconds, tokens + gen.new_tokens, runaway + gen.ended.count(False)
        scored[name] = [score_row(r, t, spec, name) for r, t in zip(rows, gen.texts)]
    return ArtifactRun(scored, seconds, tokens, runaway, _peak_rss_mb())


def sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_entries(root: Path, paths: list[Path]) -> list[dict]:
    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())
    return [{"path": str(f.relative_to(root)), "bytes": f.stat().st_size, "sha256": sha256(f)} for f in files]
