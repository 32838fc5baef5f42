#!/usr/bin/env bash
# A data-scaling curve: the same recipe trained on subsets of data/train.jsonl (fewer template groups,
# fewer rows per group; bench/data_scaling.py) and scored on the full dev, golden, adversarial and test
# sets with the pipeline's own scripts (bench/gpu_profile.sh). One line per subset in OUT/summary.jsonl.
#
#   bash bench/data_scaling.sh OUT BASE_MODEL EPOCHS LR RANK [data_scaling.py flags]
#
# e.g. the GPU profile: bash bench/data_scaling.sh /tmp/scaling <model.gguf> 8 0.001 64 --groups 0.25 0.5 --rows 0.5
# (MAX_STEPS, BATCH, DROPOUT, SEED as for gpu_profile.sh; the profile's epochs make smaller subsets
# train fewer steps, so every point sees its data equally often).
set -euo pipefail
OUT=$1; BASE=$2; EPOCHS=$3; LR=$4; RANK=$5; shift 5
PY=${PYTHON:-python3}
"$PY" bench/data_scaling.py --train data/train.jsonl --out "$OUT/subsets" "$@"
for d in "$OUT"/subsets/*/; do
  name=$(basename "$d")
  TRAIN="$d/train.jsonl" bash bench/gpu_profile.sh "$OUT" "$BASE" "$name" "$EPOCHS" "$LR" "$RANK"
done
