#!/usr/bin/env bash
# Runs bench/gpu_soup.sh on the lent GPU machine (see shared/gpu/README.md), where one call lasts at most
# 10 minutes, carries at most 64 MiB of ignored files, and the machine stays warm (about 30 s) between
# calls. Training outlives a call, so it runs in the background, in a session of its own (setsid: the
# machine ends every other process a call leaves when the call returns), and later calls wait for it.
#
# Here:    bash bench/gpu_remote.sh pack NAME=DATA_DIR [NAME=DATA_DIR ...]
#            the bundled GGUF in two pieces (.gguf/part_aa, part_ab), the wheels the GPU image lacks (.whl/),
#            and each DATA_DIR's train.jsonl and eval/{dev,golden,adversarial,test}.jsonl under .dev/data/NAME
# Call 1:  carry [.gguf/part_aa]                        bash bench/gpu_remote.sh stage
# Call 2:  carry [.whl, .dev]                           bash bench/gpu_remote.sh keep
# Call 3:  carry [.gguf/part_ab]                        SEEDS="7 1" SOUPS="7 1" bash bench/gpu_remote.sh start
#                                                        && bash bench/gpu_remote.sh wait 540
# Call 4+: bash bench/gpu_remote.sh wait 540             (until it prints "finished")
# A call carries 64 MiB at most, the tracked files (about 6 MiB) included, so the GGUF goes in two pieces of
# at most 52 MiB and the wheels and data in a call of their own: start takes the copies `keep` left where
# its call brought none (the machine keeps /tmp while it stays warm, about 30 s between calls).
# Later:   SEEDS="42" SOUPS="42 7 1" bash bench/gpu_remote.sh more && bash bench/gpu_remote.sh wait 540
#                                                        (more seeds and soups beside the first run's)
# Timing on one H100 (BATCH=32 RECIPE="8 0.0014 64", about 5250 train rows): two seeds side by side train in about
# 280 s; eight (two data folders of four seeds) reached epoch 5.7 of 8 in the first 540 s (2026-12-07). A run that
# outlasts one call needs the next call within the machine's idle window (about 30 s), or the machine goes back
# and the run with it. One data folder of four seeds does not fit one call: its seeds trained side by side in
# 505-527 s and the soup's scoring took 119-125 s (2026-12-08, two runs), so start + wait 540, then wait 300.
# Then, optionally: bash bench/gpu_remote.sh fetch 1, fetch 2, ... (the seeds' adapters, to score them here)
#
# SOUPS holds one or more soups, comma-separated ("42 1,7 1").
# start runs one `bench/gpu_soup.sh` per data folder, side by side (RECIPE, BATCH, CONSTRAINED, SOUP_CONSTRAINED, SEED_EVAL
# and EXTRA_EVAL pass through: see gpu_soup.sh and gpu_profile.sh). wait returns as soon as every run has
# ended, failed or not (or none is alive: killed), packs each profile's summary line, figures, logs and predictions
# into $OUT/results.tgz, and prints how far each unfinished training has got. Copy it out of the files folder at
# once (only the latest call's files can be fetched); here: mkdir R && tar -xzf FILES_AT/results.tgz -C R.
set -euo pipefail
cmd=${1:?pack, stage, keep, start, more, wait or fetch}; shift || true

# launch NAME RUN: gpu_soup.sh in the work copy /tmp/w_NAME, for SEEDS and SOUPS, into /tmp/out/NAME (whose
# summary.jsonl gains a line per profile); its script and log are /tmp/out/RUN.{sh,log}.
launch() {
  local name=$1 run=$2 w=/tmp/w_$1
  local -a soups
  IFS=, read -r -a soups <<< "${SOUPS:-}"
  # The work copy's own package first: the image has no slm_factory installed. setsid: when a call
  # returns, the machine ends every process it left, except one in a new session (device README).
  {
    echo "cd $(printf %q "$w") || exit 1"
    echo "export PYTHONPATH=$(printf %q "$w:/tmp/site") HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false"
    echo 'python3 -c "import slm_factory.grammar, trl, datasets, xgrammar, pycountry, gguf" &&'
    echo "  bash bench/gpu_soup.sh /tmp/out/$name /tmp/g/model.gguf $(printf %q "$SEEDS") ${soups[@]+$(printf '%q ' "${soups[@]}")}"
    echo "echo \"finished $run: exit \$?\""
  } > "/tmp/out/$run.sh"
  setsid nohup bash "/tmp/out/$run.sh" > "/tmp/out/$run.log" 2>&1 < /dev/null &
}
case "$cmd" in
pack)
  [ $# -ge 1 ] || { echo "pack NAME=DATA_DIR ..." >&2; exit 2; }
  gguf=$(.venv/bin/python -c 'from slm_factory.modeling import BUNDLED, resolve_base; p, f = resolve_base(BUNDLED); print(f"{p}/{f}")')
  rm -rf .gguf .dev/data && mkdir -p .gguf .whl .dev/data
  split -b 52M "$gguf" .gguf/part_
  for d in .gguf .dev; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> .git/info/exclude; done
  # The versions of constraints.txt, built for the image's Python 3.12 (gguf: transformers needs it to
  # read the bundled GGUF, and the image of 2026-12-07 lacked it).
  pin() { grep -i "^$1==" constraints.txt | head -1; }
  P=(--no-deps --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
     --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
     --platform manylinux2014_x86_64)
  python3 -m pip download -q "${P[@]}" -d .whl $(pin pydantic) $(pin pydantic_core) $(pin annotated-types) \
    $(pin typing-inspection) $(pin trl) $(pin datasets) $(pin dill) $(pin multiprocess) $(pin xxhash) \
    $(pin pycountry) $(pin xgrammar) $(pin gguf) $(pin apache-tvm-ffi)
  for spec in "$@"; do
    name=${spec%%=*}; src=${spec#*=}
    mkdir -p ".dev/data/$name/eval"
    cp "$src/train.jsonl" ".dev/data/$name/"
    cp "$src"/eval/{dev,golden,adversarial,test}.jsonl ".dev/data/$name/eval/"
  done
  du -sh .gguf .whl .dev ;;
stage)
  mkdir -p /tmp/g && cp .gguf/part_aa /tmp/g/ && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader ;;
keep)
  rm -rf /tmp/keep && mkdir -p /tmp/keep && cp -r .whl .dev /tmp/keep/ && du -sh /tmp/keep/.whl /tmp/keep/.dev ;;
start)
  : "${SEEDS:?SEEDS=\"7 1\"}"
  for d in .whl .dev; do [ -d "$d" ] || cp -r "/tmp/keep/$d" . ; done  # from `keep`, if this call carried none
  cat /tmp/g/part_aa .gguf/part_ab > /tmp/g/model.gguf
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site --upgrade .whl/*.whl
  rm -rf /tmp/out && mkdir -p /tmp/out
  for d in .dev/data/*/; do
    name=$(basename "$d"); w=/tmp/w_$name
    rm -rf "$w" && mkdir -p "$w/data/eval"
    tar --exclude=./.whl --exclude=./.gguf --exclude=./.dev --exclude=./.git -cf - . | tar -xf - -C "$w"
    cp "$d/train.jsonl" "$w/data/" && cp "$d"/eval/*.jsonl "$w/data/eval/"
    launch "$name" "$name"
  done
  sleep 30
  if grep -h "finished" /tmp/out/*.log; then tail -n 20 /tmp/out/*.log; exit 1; fi
  echo "started: $(cd /tmp/out && ls *.sh | sed "s/\.sh$//" | tr "\n" " ")" ;;
more)
  # After start's runs have finished, on the same machine: train more SEEDS (may be "") and score SOUPS, which
  # may mix new seeds with earlier ones ("42 7 1"). Pass RECIPE, BATCH, ... again: each call has its own env.
  : "${SEEDS?SEEDS=\"42\" (or \"\" for soups of earlier seeds only)}"
  if pgrep -f "[b]ench/gpu_soup.sh" > /dev/null; then echo "a run is still going: wait for it first" >&2; exit 1; fi
  for d in /tmp/out/*/; do
    name=$(basename "$d"); n=$(ls /tmp/out/"$name".*log 2>/dev/null | wc -l)
    launch "$name" "$name.more$n"
  done
  sleep 10
  if grep -h "finished .*more" /tmp/out/*.log; then tail -n 20 /tmp/out/*more*.log; exit 1; fi
  echo "started more: $(cd /tmp/out && ls *more*.sh | sed "s/\.sh$//" | tr "\n" " ")" ;;
wait)
  limit=${1:-540}; t0=$(date +%s)
  runs=$(ls /tmp/out/*.log | wc -l)
  finished() { cat /tmp/out/*.log | grep -c '^finished' || true; }
  while [ "$(finished)" -lt "$runs" ] && [ $(( $(date +%s) - t0 )) -lt "$limit" ]; do
    # Neither running nor "finished": the run was killed (the machine ends what a call leaves, unless setsid).
    pgrep -f "[b]ench/gpu_soup.sh" > /dev/null || { sleep 2; break; }
    sleep 10
  done
  # One tar, not a tree: a call brings back 8 files at most (2026-12-08: the soup's predictions were left out of
  # a tree of 40 files), and without the adapters (a rank-64 adapter is 78 MB; `fetch` brings those).
  rm -rf /tmp/back && mkdir -p /tmp/back
  for d in /tmp/out/*/; do
    name=$(basename "$d"); mkdir -p "/tmp/back/$name"
    cp "$d/summary.jsonl" "/tmp/back/$name/" 2>/dev/null || true
    for m in "$d"*/; do
      [ -f "$m/train_details.json" ] || continue  # a profile (trained, or a soup), not base_model
      mn=$(basename "$m"); mkdir -p "/tmp/back/$name/$mn"
      cp -r "$m/predictions" "$m/eval" "/tmp/back/$name/$mn/" 2>/dev/null || true
      cp "$m"/*.json "$m"/*.log "$m"/*.csv "/tmp/back/$name/$mn/" 2>/dev/null || true
    done
  done
  cp /tmp/out/*.log /tmp/back/
  tar -czf "$OUT/results.tgz" -C /tmp/back . && ls -la "$OUT/results.tgz"
  grep -h "^finished" /tmp/out/*.log || true
  if [ "$(finished)" -lt "$runs" ]; then
    pgrep -f "[b]ench/gpu_soup.sh" > /dev/null && echo "still running after ${limit}s" || echo "a run is gone without finishing"
    for l in /tmp/out/*/*/train.log; do  # how far each training has got (a soup's log has no epoch)
      e=$(tr '\r' '\n' < "$l" 2>/dev/null | grep -o "'epoch': '[0-9.]*'" | tail -1 || true)
      [ -n "$e" ] && echo "$l: $e"
    done
  fi
  for s in /tmp/out/*/summary.jsonl; do [ -f "$s" ] && cut -c1-300 "$s"; done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader ;;
fetch)
  # The trained adapters themselves, to score them elsewhere (e.g. on the CPU here when device time is short):
  # each seed's adapter folder with its weights cast to float16 (a rank-64 adapter is 78 MB in float32), in
  # one tar cut into 15 MiB pieces, four pieces a call (the files that come back: 8 at most, 64 MiB in all).
  #   fetch 1, fetch 2, ... until it prints "last piece"; here: cat DIR/piece_* | tar -x, then
  #   python bench/adapter_fp16.py to32 SRC DST on each adapter_model.safetensors.
  i=${1:?fetch N (1, 2, ...)}
  if [ ! -f /tmp/fetch/done ]; then
    rm -rf /tmp/fetch && mkdir -p /tmp/fetch/a
    for a in /tmp/out/*/s[0-9]*/adapter; do
      p=$(basename "$(dirname "$(dirname "$a")")")_$(basename "$(dirname "$a")")
      mkdir -p "/tmp/fetch/a/$p" && cp -r "$a" "/tmp/fetch/a/$p/" && rm -f "/tmp/fetch/a/$p/adapter/adapter_model.safetensors"
      cp "$(dirname "$a")"/*.json "$(dirname "$a")"/*.csv "/tmp/fetch/a/$p/" 2>/dev/null || true
      python3 bench/adapter_fp16.py to16 "$a/adapter_model.safetensors" "/tmp/fetch/a/$p/adapter/adapter_model.safetensors"
    done
    (cd /tmp/fetch/a && tar -cf - .) | split -b 15M - /tmp/fetch/piece_ && touch /tmp/fetch/done
  fi
  pieces=(/tmp/fetch/piece_*); first=$(( (i - 1) * 4 ))
  for f in "${pieces[@]:$first:4}"; do cp "$f" "$OUT/"; done
  [ $(( first + 4 )) -ge ${#pieces[@]} ] && echo "last piece" || echo "more: fetch $(( i + 1 ))"
  ls -la "$OUT" ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
