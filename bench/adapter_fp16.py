"""Cast a LoRA adapter's safetensors between float32 and float16, so a GPU run's adapters fit what a device
call sends back (bench/gpu_remote.sh fetch) and load here as float32 again.

    python bench/adapter_fp16.py to16 SRC DST     # on the GPU machine
    python bench/adapter_fp16.py to32 SRC DST     # here, before scoring or souping

float16, not bfloat16: LoRA weights are small numbers, where float16's 10 mantissa bits keep about 1e-3
relative precision (bfloat16 keeps 7)."""

from __future__ import annotations

import sys


def cast(src: str, dst: str, to: str) -> int:
    """Write `src`'s tensors to `dst` as float16 (`to="to16"`) or float32 (`"to32"`); other dtypes are copied.
    Returns the number of tensors."""
    import torch
    from safetensors.torch import load_file, save_file

    dtype = {"to16": torch.float16, "to32": torch.float32}[to]
    tensors = load_file(src)
    out = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(out, dst, metadata={"format": "pt"})
    return len(out)


if __name__ == "__main__":
    print(cast(sys.argv[2], sys.argv[3], sys.argv[1]), "tensors", file=sys.stderr)
