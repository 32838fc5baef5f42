#!/usr/bin/env bash
# Adapter soups on the GPU profile: train one recipe with several seeds side by side on one GPU (a 135M
# model leaves most of it idle), then score the mean adapter of each group of seeds
# (slm_factory.training.soup) the same way bench/gpu_profile.sh scores a single training.
#
#   bash bench/gpu_soup.sh OUT BASE_MODEL "SEED SEED ..." ["SOUP_SEEDS" ...]
#   e.g. bash bench/gpu_soup.sh /tmp/soup /tmp/model.gguf "42 7 1 2" "42 7" "1 2" "42 7 1 2"
#
# RECIPE="EPOCHS LR RANK" sets the recipe (default round 16's "8 0.001 64", at batch 16; the README's GPU line
# is BATCH=32 RECIPE="8 0.0014 64", on data built with teacher.template_extras: [wide]); each seed's profile is
# OUT/sSEED, each soup's OUT/soup-SEED-SEED; one summary line each goes to OUT/summary.jsonl.
# SOUP_CONSTRAINED=true|copy scores only the soups a second time inside the contract's grammar (CONSTRAINED
# does it for every profile): the soups are what ships, and the second decode doubles a profile's eval time.
# SEED_EVAL=false scores only the soups, not each seed (saves a scoring pass per seed of GPU time).
set -euo pipefail
OUT=$1; BASE=$2; SEEDS=$3; shift 3
read -r EPOCHS LR RANK <<< "${RECIPE:-8 0.001 64}"
HERE=$(dirname "$0")
bash "$HERE/gpu_profile.sh" "$OUT" "$BASE"  # only prepares the base model, once for every seed
for s in $SEEDS; do
  SEED=$s EVAL=${SEED_EVAL:-true} bash "$HERE/gpu_profile.sh" "$OUT" "$BASE" "s$s" "$EPOCHS" "$LR" "$RANK" &
done
wait
for group in "$@"; do
  names=$(for s in $group; do printf 's%s ' "$s"; done)
  SOUP="$names" CONSTRAINED="${SOUP_CONSTRAINED:-${CONSTRAINED:-false}}" \
    bash "$HERE/gpu_profile.sh" "$OUT" "$BASE" "soup-${group// /-}" "$EPOCHS" "$LR" "$RANK" &
done
wait
