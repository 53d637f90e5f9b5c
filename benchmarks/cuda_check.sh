#!/usr/bin/env bash
# The CUDA checks, as run on a lent GPU machine (python3 there holds torch with CUDA), in two phases:
# 1. alone, for timings: ZSSR's training step with and without channels-last, then benchmarks/throughput.py for the
#    default estimator (100 files: one by one, --jobs 2, batched);
# 2. at once, for quality (seconds there are under contention, not speed figures): ZSSR on DIV2KRK's 8 HR images
#    with the true and the fixed kernel at x2 and x4, at the published settings and at our defaults, one process
#    per image and setting (1 CPU thread each), beside the `cuda` and ZSSR tests.
# DATA holds DIV2KRK's lr_x2 (im_1..20 and the 8 HR ids), gt_k_x2, and gt, lr_x4, gt_k_x4 for the 8 HR ids.
# LOGDIR gets at most 8 files (the device tool's limit): rows.txt holds every process's output, one after another.
# Usage: benchmarks/cuda_check.sh DATA LOGDIR [SECONDS for phase 2, default 300]
set -u
DATA=$1; LOG=$2; PHASE2=${3:-300}
export PYTHONUNBUFFERED=1
mkdir -p /tmp/pp /tmp/rows && ln -sfn "$PWD/cli" /tmp/pp/kernelgan_cli
export PYTHONPATH="$PWD:/tmp/pp"
stamp() { echo "$(date +%T) $*" | tee -a "$LOG/timeline.txt"; }
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOG/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no cuda')" | tee -a "$LOG/gpu.txt"

stamp "phase 1: zssr_step"
timeout 45 python3 benchmarks/zssr_step.py --image "$DATA/lr_x2/im_3.png" --device cuda --rounds 3 \
    --variants contiguous,channels_last 2>&1 | tee "$LOG/zssr_step_cuda.txt"
stamp "phase 1: throughput"
timeout 60 python3 benchmarks/throughput.py --data "$DATA" --device cuda --limit 20 --copies 5 --estimator prior \
    --modes serial,jobs2,batch 2>&1 | tee "$LOG/throughput_prior_cuda.txt"

stamp "phase 2: ZSSR rows and tests, at once"
# our defaults at a lower CPU priority: the published rows are the ones missing
for scale in 2 4; do
    for setting in published defaults; do
        flag=(); nice=(nice -n 10); [ "$setting" = published ] && flag=(--zssr-published) && nice=()
        for n in 3 13 14 23 24 30 33 38; do
            OMP_NUM_THREADS=1 timeout "$PHASE2" "${nice[@]}" python3 benchmarks/sr_div2krk.py --data "$DATA" --device cuda \
                --scale $scale --images "im_$n" --methods zssr-true,zssr-fixed "${flag[@]}" \
                >"/tmp/rows/x${scale}_${setting}_im_$n.txt" 2>&1 &
        done
    done
done
OMP_NUM_THREADS=4 timeout "$PHASE2" python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_zssr.py \
    >"$LOG/cuda_tests.txt" 2>&1
stamp "tests done: $(tail -1 "$LOG/cuda_tests.txt")"
wait
stamp "phase 2 done"
for f in /tmp/rows/*.txt; do echo "== $(basename "$f" .txt)"; cat "$f"; done >"$LOG/rows.txt"
grep -c "peak RSS" "$LOG/rows.txt" | sed 's/^/processes finished: /' | tee -a "$LOG/timeline.txt"
