"""export: merge the adapter into the base model, convert it to GGUF and quantize it with llama.cpp's own
tools, and write an Ollama Modelfile.

    python scripts/export.py --params params.yaml --specs specs --base-model outputs/base_model \
        --adapter outputs/adapters/current --llama-cpp .venv/share/llama.cpp --merged outputs/merged \
        --gguf outputs/gguf --modelfile outputs/Modelfile

Outputs: the merged model (safetensors + tokenizer + chat template + generation config), an f16 GGUF
and one GGUF per `export.quantizations` (outputs/gguf/manifest.json: each one's size and sha256), and a
Modelfile whose FROM is `export.modelfile_quant`. A base
model llama.cpp's converter does not support still gets the merged model; the GGUF folder then holds
only UNSUPPORTED.txt with the converter's reason, and the Modelfile says so.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from slm_factory.common import get_logger, load_params, write_json
from slm_factory.export import (ExportError, check_quantizations, convert, manifest_entries, merge, modelfile, quantize,
                                stop_tokens)
from slm_factory.spec import TaskSpec

log = get_logger("export")
PARAMS = ("export.quantizations", "export.modelfile_quant")  # exactly the stage's params in dvc.yaml


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, required=True, help="task specs (the Modelfile's SYSTEM prompt)")
    ap.add_argument("--base-model", type=Path, required=True, help="prepare_base's output")
    ap.add_argument("--adapter", type=Path, required=True, help="train's LoRA adapter")
    ap.add_argument("--llama-cpp", type=Path, required=True, help="folder holding llama.cpp's convert_hf_to_gguf.py")
    ap.add_argument("--merged", type=Path, required=True, help="out: the merged model folder")
    ap.add_argument("--gguf", type=Path, required=True, help="out: folder of GGUF files")
    ap.add_argument("--modelfile", type=Path, required=True, help="out: the Ollama Modelfile")
    a = ap.parse_args(argv)
    cfg = load_params(a.params, PARAMS).export  # config checks modelfile_quant is f16 or one of quantizations
    quants = list(cfg.quantizations)
    spec = TaskSpec.load(a.specs)
    try:  # every check that needs no work, before any work
        check_quantizations(quants)
        if not (a.adapter / "adapter_config.json").exists():
            raise ExportError(f"no adapter in {a.adapter}: run the train stage first")
    except ExportError as e:
        raise SystemExit(f"export: {e}") from None

    merge(a.base_model, a.adapter, a.merged)
    log.info("merged %s + %s -> %s", a.base_model, a.adapter, a.merged)
    shutil.rmtree(a.gguf, ignore_errors=True)
    a.gguf.mkdir(parents=True)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(a.merged)
    try:
        f16 = a.gguf / "model-f16.gguf"
        convert(a.merged, f16, a.llama_cpp)
        for q in quants:
            quantize(f16, a.gguf / f"model-{q}.gguf", q)
        log.info("GGUF: %s", sorted(p.name for p in a.gguf.glob("*.gguf")))
        # every GGUF made, shipped or not, with its size and sha256 (the release manifest lists what ships)
        write_json(a.gguf / "manifest.json", manifest_entries(a.gguf, sorted(a.gguf.glob("*.gguf"))))
        text = modelfile(tok, f"model-{cfg.modelfile_quant}.gguf", spec.system_prompt, stop_tokens(tok))
    except ExportError as e:
        # The merged model stands on its own; say plainly why there is no GGUF.
        log.error("no GGUF: %s", e)
        for p in a.gguf.glob("*"):
            p.unlink()
        (a.gguf / "UNSUPPORTED.txt").write_text(f"{e}\n")
        text = f"# No GGUF was made, so Ollama cannot load this model: {e}\n"
    a.modelfile.parent.mkdir(parents=True, exist_ok=True)
    a.modelfile.write_text(text)


if __name__ == "__main__":
    main()
