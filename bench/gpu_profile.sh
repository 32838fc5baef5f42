#!/usr/bin/env bash
# The GPU training profile, run with the pipeline's own stage scripts on a machine without DVC
# (the bare GPU image: see shared/gpu/README.md for the wheels it lacks). Where DVC is installed,
# the same run is one line (the data is the working copy's data/: the README's GPU line builds it with
# -S n_examples=7200 -S 'teacher.template_extras=[wide]' and trains at BATCH=32):
#   dvc exp run -S train.max_steps=0 -S epochs=EPOCHS -S train.batch_size=16 -S learning_rate=LR \
#       -S train.lora_dropout=0.05 -S lora_rank=RANK -S lora_alpha=2*RANK -S eval.release=true
#
#   bash bench/gpu_profile.sh OUT BASE_MODEL NAME EPOCHS LR RANK [NAME EPOCHS LR RANK ...]
#
# MAX_STEPS, BATCH and DROPOUT in the environment override the profile's 0 (= EPOCHS), 16 and 0.05: e.g.
# MAX_STEPS=130 BATCH=8 DROPOUT=0 runs the CPU default's recipe (to sweep its step budget quickly);
# LAYERS and SEED override train.lora_layers and train.seed, SOUP_SEEDS="42 7 1 2" sets train.soup_seeds
# (the train stage's own adapter soup); GPUS and ACCEL set train.num_gpus and
# train.accelerate_config (GPUS=4 ACCEL=configs/accelerate/zero2.yaml: ZeRO-2 on 4 GPUs, batch per GPU);
# CONSTRAINED=true|copy sets eval.constrained (each model is then also scored inside the contract's
# grammar, with copy also copying eval.yaml's copied strings from the request);
# EVAL=false trains only, scoring nothing;
# EXTRA_EVAL="FILE ..." scores more row files beside the four (e.g. an earlier round's test set, minus
# the groups now in train, to compare rounds on the same rows); TRAIN trains from another rows file
# (bench/data_scaling.sh uses it for subsets of data/train.jsonl). SOUP="NAME1 NAME2 ..." trains nothing: the
# profile's adapter is the mean of those earlier profiles' adapters in OUT (an adapter soup), then scored the same.
# BASE_MODEL is what `base_model` accepts (the bundled GGUF's path there). Each profile trains from
# data/train.jsonl (with the dev curve), then scores dev, golden, adversarial and test (eval.release)
# with scripts/eval.py; OUT/NAME/ holds the adapter, figures and predictions, and one summary line per
# profile goes to OUT/summary.jsonl.
set -euo pipefail
OUT=$1; BASE=$2; shift 2
PY=${PYTHON:-python3}
mkdir -p "$OUT"
"$PY" - "$BASE" "$OUT/base.yaml" <<'EOF'
import sys, yaml
p = yaml.safe_load(open("params.yaml"))
p["base_model"] = sys.argv[1]
yaml.safe_dump(p, open(sys.argv[2], "w"))
EOF
[ -d "$OUT/base_model" ] || "$PY" scripts/prepare_base.py --params "$OUT/base.yaml" --out "$OUT/base_model"
while [ $# -ge 4 ]; do
  NAME=$1; EPOCHS=$2; LR=$3; RANK=$4; shift 4
  D="$OUT/$NAME"; mkdir -p "$D"
  "$PY" - "$OUT/base.yaml" "$D/params.yaml" "$EPOCHS" "$LR" "$RANK" <<'EOF'
import os, sys, yaml
p = yaml.safe_load(open(sys.argv[1]))
epochs, lr, rank = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
p.update(epochs=epochs, learning_rate=lr, lora_rank=rank, lora_alpha=2 * rank)
p["train"].update(max_steps=int(os.environ.get("MAX_STEPS", 0)), batch_size=int(os.environ.get("BATCH", 16)),
                  lora_dropout=float(os.environ.get("DROPOUT", 0.05)),
                  lora_layers=int(os.environ.get("LAYERS", p["train"]["lora_layers"])),
                  seed=int(os.environ.get("SEED", p["train"]["seed"])),
                  soup_seeds=[int(x) for x in os.environ.get("SOUP_SEEDS", "").split()],
                  num_gpus=int(os.environ.get("GPUS", 1)), accelerate_config=os.environ.get("ACCEL") or None)
c = os.environ.get("CONSTRAINED", "false")
p["eval"].update(release=True, batch_size=64, constrained=c if c == "copy" else c == "true")
yaml.safe_dump(p, open(sys.argv[2], "w"))
EOF
  start=$(date +%s)
  if [ -n "${SOUP:-}" ]; then  # no training: the mean of earlier profiles' adapters (slm_factory.training.soup)
    "$PY" -c 'import json, sys; from slm_factory.training.soup import average_adapters as avg
print(json.dumps(avg(sys.argv[1], sys.argv[3:], sys.argv[2])))' "$OUT/base_model" "$D/adapter" \
      $(for n in $SOUP; do echo "$OUT/$n/adapter"; done) > "$D/train_details.json" 2> "$D/train.log"
  else
  "$PY" scripts/train.py --params "$D/params.yaml" --base-model "$OUT/base_model" --train "${TRAIN:-data/train.jsonl}" \
    --dev data/eval/dev.jsonl --out "$D/adapter" --loss-csv "$D/train_loss.csv" --dev-curve "$D/train_dev_curve.csv" \
    --metrics "$D/train.json" --details "$D/train_details.json" --timings "$D/train_timings.json" > "$D/train.log" 2>&1
  fi
  # EVAL=false: train only (gpu_soup.sh's SEED_EVAL=false, when only the soups are to be scored).
  [ "${EVAL:-true}" = false ] && { echo "{\"profile\": \"$NAME\", \"seconds\": $(( $(date +%s) - start )), \"eval\": false}" \
    >> "$OUT/summary.jsonl"; continue; }
  "$PY" scripts/eval.py --params "$D/params.yaml" --specs specs --base-model "$OUT/base_model" --adapter "$D/adapter" \
    --eval data/eval/dev.jsonl data/eval/golden.jsonl data/eval/adversarial.jsonl ${EXTRA_EVAL:-} --test data/eval/test.jsonl \
    --out "$D/eval" --predictions "$D/predictions" --metrics "$D/eval.json" --timings "$D/eval_timings.json" \
    > "$D/eval.log" 2>&1
  "$PY" - "$D" "$NAME" "$(( $(date +%s) - start ))" >> "$OUT/summary.jsonl" <<'EOF'
import json, sys
d, name, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
details = json.load(open(f"{d}/eval/details.json"))
keys = ("exact_match", "tool_accuracy", "arguments_required_accuracy", "json_parse_rate", "unsafe_rate", "no_tool_recall")
print(json.dumps({"profile": name, "params": {k: v for k, v in json.load(open(f"{d}/train_details.json")).items()
                                              if k in ("steps", "train_rows", "final_loss", "adapters", "rank")},
                  "seconds": seconds, "gates": details["release_gates"],
                  **{s: {k: v.get(k) for k in keys} for s, v in details["summaries"].items()},
                  **({"constrained": {s: {k: v.get(k) for k in keys} for s, v in details["constrained"].items()}}
                     if "constrained" in details else {})}))
EOF
  tail -1 "$OUT/summary.jsonl"
done
