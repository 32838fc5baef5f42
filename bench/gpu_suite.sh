#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md, in parts, on a CUDA machine where unsloth, trl, datasets and
# bitsandbytes import. Run from the repository root:
#   bash bench/gpu_suite.sh OUT_DIR PART [TOKENIZER_DIR]
# PART: tests | stage | eval | train | train-extra | multi | all (STAGES narrows the stage part). TOKENIZER_DIR: a folder with the base
# model's tokenizer and config (default outputs/base_model). Models are the real architectures with
# random weights (throughput does not depend on weight values; quality is measured on the CPU).
set -uo pipefail
OUT=${1:?usage: bench/gpu_suite.sh OUT_DIR PART [TOKENIZER_DIR]}; PART=${2:-all}; TOK=${3:-outputs/base_model}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 PYTHONUNBUFFERED=1 \
  TOKENIZERS_PARALLELISM=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
W=/tmp/gpu_suite; M=/tmp/bench_models
mkdir -p "$OUT" "$W"
want() { [[ $PART == all || $PART == "$1" ]]; }
say() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/machine.txt" 2>&1
$PY -c 'import torch,transformers,peft;print("torch",torch.__version__,"transformers",transformers.__version__,"peft",peft.__version__)' >> "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt" >&2

# params.yaml with a few train keys changed: variant NAME key=value ...
variant() {
  local name=$1; shift
  $PY - "$W/params_$name.yaml" "$@" <<'EOF'
import sys, yaml
out, *sets = sys.argv[1:]
p = yaml.safe_load(open("params.yaml"))
for kv in sets:
    k, v = kv.split("=", 1)
    p["train"][k] = yaml.safe_load(v)
yaml.safe_dump(p, open(out, "w"), sort_keys=False)
EOF
}

if want tests; then
  say "GPU tests"
  SLM_TEST_TOKENIZER="$TOK" $PY -m pytest -q -m gpu tests/test_gpu.py 2>&1 | tail -25 | tee "$OUT/gpu_tests.txt" >&2
fi

if want stage; then
  # The train stage with each backend on the default data, then the eval stage's code loading the adapter.
  $PY bench/train_throughput.py --build-only --archs smollm2-135m --tokenizer "$TOK" --workdir $M >&2
  for v in ${STAGES:-unsloth_lora:backend=unsloth unsloth_qlora:backend=unsloth,load_in_4bit=true trl_lora:backend=trl \
           trl_qlora:backend=trl,load_in_4bit=true}; do
    name=${v%%:*}
    variant "$name" $(echo "${v#*:}" | tr ',' ' ')
    say "train stage: $name"
    $PY scripts/train.py --params "$W/params_$name.yaml" --base-model $M/smollm2-135m --train data/train.jsonl \
      --out "$W/adapter_$name" --loss-csv "$W/loss_$name.csv" --metrics "$OUT/train_$name.json" 2> "$W/train_$name.log" \
      || tail -30 "$W/train_$name.log" >&2
    say "eval stage code with adapter_$name"
    $PY scripts/eval.py --params "$W/params_$name.yaml" --base-model $M/smollm2-135m --adapter "$W/adapter_$name" \
      --eval data/eval/dev.jsonl --out "$W/report_$name" --metrics "$OUT/eval_$name.json" 2> "$W/eval_$name.log" \
      || tail -30 "$W/eval_$name.log" >&2
  done
  grep -h "" "$OUT"/train_*.json >&2
fi

if want eval; then
  say "eval batching"
  adapter=$W/adapter_unsloth_lora; [[ -d $adapter ]] || adapter=none
  $PY bench/train_throughput.py --build-only --archs smollm2-135m --tokenizer "$TOK" --workdir $M >&2
  $PY bench/eval_batching.py --base-model $M/smollm2-135m --adapter "$adapter" --rows 128 \
    --batch-sizes 1 8 32 128 --fixed-length --max-new-tokens 48 --json "$OUT/eval_bench.jsonl" 2>&1 | tail -6
fi

if want train; then
  say "training benchmark"
  $PY bench/train_throughput.py --tokenizer "$TOK" --workdir $M --out "$OUT/train_bench.jsonl" \
    --archs qwen3-0.6b llama-3.2-1b --ranks 16 64 --quant lora qlora --backends trl unsloth 2> "$W/train_bench.log"
  tail -5 "$W/train_bench.log" >&2
fi

if want train-extra; then
  say "training benchmark: batch 64, unsloth defaults, gradient checkpointing on for both"
  $PY bench/train_throughput.py --tokenizer "$TOK" --workdir $M --out "$OUT/train_bench_extra.jsonl" \
    --archs qwen3-0.6b llama-3.2-1b --ranks 16 --quant lora qlora --backends trl unsloth --batch-size 64 \
    2> "$W/train_extra.log"
  $PY bench/train_throughput.py --tokenizer "$TOK" --workdir $M --out "$OUT/train_bench_extra.jsonl" \
    --archs qwen3-0.6b llama-3.2-1b --ranks 16 --quant lora --backends unsloth --policy unsloth-default \
    2>> "$W/train_extra.log"
  $PY bench/train_throughput.py --tokenizer "$TOK" --workdir $M --out "$OUT/train_bench_extra.jsonl" \
    --archs qwen3-0.6b llama-3.2-1b --ranks 16 --quant lora --backends trl unsloth --grad-ckpt 2>> "$W/train_extra.log"
  tail -5 "$W/train_extra.log" >&2
fi

if want multi; then
  n=$($PY -c 'import torch;print(torch.cuda.device_count())')
  say "multi-GPU: $n GPUs"
  $PY bench/train_throughput.py --build-only --archs smollm2-135m --tokenizer "$TOK" --workdir $M >&2
  variant ddp backend=trl num_gpus=$n
  say "train stage under accelerate launch"
  $PY scripts/train.py --params "$W/params_ddp.yaml" --base-model $M/smollm2-135m --train data/train.jsonl \
    --out "$W/adapter_ddp" --loss-csv "$W/loss_ddp.csv" --metrics "$OUT/train_ddp.json" 2> "$W/train_ddp.log" \
    || tail -40 "$W/train_ddp.log" >&2
  ls "$W/adapter_ddp" >&2
  $PY bench/train_throughput.py --tokenizer "$TOK" --workdir $M --out "$OUT/train_bench_multi.jsonl" \
    --archs qwen3-0.6b llama-3.2-1b --ranks 16 --quant lora --backends trl --gpus 1 "$n" 2> "$W/train_multi.log"
  tail -8 "$W/train_multi.log" >&2
fi
