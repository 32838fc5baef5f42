"""prepare_base: resolve `base_model` once and save it as plain safetensors + tokenizer.

    python scripts/prepare_base.py --params params.yaml --out outputs/base_model

The bundled default is a GGUF file; dequantising it takes a while, so it happens here once and
every later stage (validate's length gate, baseline, train, eval) loads the saved copy. EOS and pad are
set to the chat template's end-of-turn token, and the saved tokenizer is checked before the stage ends.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from slm_factory.common import get_logger, load_params
from slm_factory.modeling import check_special_tokens, load_for_export, save_tokenizer

log = get_logger("prepare_base")
PARAMS = ("base_model",)  # exactly the stage's params in dvc.yaml


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--out", type=Path, required=True,
                    help="out: the base model folder (weights, tokenizer, chat template)")
    a = ap.parse_args(argv)
    name = load_params(a.params, PARAMS).base_model
    model, tok = load_for_export(name)
    if a.out.exists():
        shutil.rmtree(a.out)
    model.save_pretrained(a.out)
    save_tokenizer(tok, a.out)
    from transformers import AutoTokenizer

    # What every later stage will load: check the saved copy, not the object in memory.
    check_special_tokens(AutoTokenizer.from_pretrained(a.out), str(a.out))
    n = sum(p.numel() for p in model.parameters())
    log.info("saved %s (%.1fM parameters) to %s", name, n / 1e6, a.out)


if __name__ == "__main__":
    main()
