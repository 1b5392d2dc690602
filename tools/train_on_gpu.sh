#!/usr/bin/env bash
# Train S4Net on a GPU machine in one call, from the shipped checkpoint, on the training cache
# packed for travel (model.pack_cache) in gpu_cache/. What comes back under $OUT: the training log,
# its config, and the weights in parts of 15 MiB (a file that comes back is at most 16 MiB); join
# them with `cat weights.part.* > candidate.pt`, then calibrate, evaluate and export it as any
# checkpoint (docs/training.md, "Training on a GPU machine"). TRAIN_DEVICE=cpu tries it out here;
# CACHE and RUN name another packed cache and run folder (default gpu_cache/, /tmp/gpu_run).
#
#   tools/train_on_gpu.sh MINUTES [model.train options: the recipe]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: tools/train_on_gpu.sh MINUTES [model.train options]}
shift
out=${OUT:?set OUT to the folder whose files come back}
cache=${CACHE:-gpu_cache}
test -f "$cache/train.npz" || { echo "error: $cache/train.npz missing (python -m model.pack_cache)"; exit 2; }
if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; fi
run=${RUN:-/tmp/gpu_run}
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=30
status=0
python3 -m model.train --cache "$cache" --out "$run" --init assets/s4net_lite0.pt --device "${TRAIN_DEVICE:-cuda}" \
    --workers "$(( $(nproc) > 4 ? $(nproc) - 2 : 2 ))" --fit-minutes "$minutes" --checkpoint-minutes 2 "$@" \
    > "$out/train.log" 2>&1 || status=$?
tr "\r" "\n" < "$out/train.log" | tail -n 4
cp "$run/config.json" "$out/" 2>/dev/null || true
# the last checkpoint, whether the run ended or stopped
if [ -f "$run/last.pt" ]; then
  python3 -m model.checkpoint "$run/last.pt" "$run/weights.pt"
  split -b 15M -d "$run/weights.pt" "$out/weights.part."
  ls -l "$out"
fi
exit $status
