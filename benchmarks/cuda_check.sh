#!/usr/bin/env bash
# The CUDA checks, as run on a lent GPU machine (python3 there holds torch with CUDA): the `cuda` tests and the
# ZSSR tests, then ZSSR on DIV2KRK's 8 HR images (published settings in float32 and bf16, our defaults, x4 at the
# published settings, now gradual), ZSSR's step with and without channels-last, then benchmarks/throughput.py for the prior (100 files).
# DATA holds DIV2KRK's lr_x2 (im_1..25 and the 8 HR ids), gt_k_x2, and gt, lr_x4, gt_k_x4 for the 8 HR ids.
# Usage: benchmarks/cuda_check.sh DATA LOGDIR
set -u
DATA=$1; LOG=$2
export PYTHONUNBUFFERED=1
mkdir -p /tmp/pp && ln -sfn "$PWD/cli" /tmp/pp/kernelgan_cli
export PYTHONPATH="$PWD:/tmp/pp"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOG/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no cuda')" | tee -a "$LOG/gpu.txt"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_zssr.py 2>&1 \
    | tee "$LOG/cuda_tests.txt" | tail -25
sr() { timeout "$1" python3 benchmarks/sr_div2krk.py --data "$DATA" --device cuda "${@:2}"; }
sr 150 --methods bicubic,zssr-true --zssr-published 2>&1 | tee "$LOG/sr_zssr_x2_published_fp32_cuda.txt"
sr 100 --methods zssr-true --zssr-published --zssr-opt precision=bf16 2>&1 | tee "$LOG/sr_zssr_x2_published_bf16_cuda.txt"
sr 80 --methods zssr-fixed,zssr-true 2>&1 | tee "$LOG/sr_zssr_x2_defaults_cuda.txt"
bench() { timeout "$1" python3 benchmarks/throughput.py --data "$DATA" --device cuda "${@:2}"; }
bench 45 --limit 25 --copies 4 --estimator prior --modes batch,serial 2>&1 | tee "$LOG/throughput_prior_cuda.txt"
timeout 60 python3 benchmarks/zssr_step.py --image "$DATA/lr_x2/im_3.png" --device cuda --rounds 3 \
    --variants contiguous,channels_last,batch4 2>&1 | tee "$LOG/zssr_step_cuda.txt"
sr 110 --scale 4 --methods bicubic,zssr-true --zssr-published 2>&1 | tee "$LOG/sr_zssr_x4_published_cuda.txt"
