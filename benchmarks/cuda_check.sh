#!/usr/bin/env bash
# The CUDA checks of the batched/GPU work, as run on a lent GPU machine (python3 there holds torch with CUDA):
# the `cuda` tests, then benchmarks/throughput.py for the prior, KernelGAN and KernelGAN at the paper's settings.
# DATA holds DIV2KRK's lr_x2/im_1..50.png and gt_k_x2 (each image is estimated twice: 100 files).
# Usage: benchmarks/cuda_check.sh DATA LOGDIR
set -u
DATA=$1; LOG=$2
export PYTHONUNBUFFERED=1
mkdir -p /tmp/pp && ln -sfn "$PWD/cli" /tmp/pp/kernelgan_cli
export PYTHONPATH="$PWD:/tmp/pp"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOG/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no cuda')" | tee -a "$LOG/gpu.txt"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_batched.py 2>&1 \
    | tee "$LOG/cuda_tests.txt" | tail -25
bench() { timeout "$1" python3 benchmarks/throughput.py --data "$DATA" --limit "${LIMIT:-50}" --copies 2 --device "${DEVICE:-cuda}" "${@:2}"; }
bench 50 --estimator prior --modes serial,batch 2>&1 | tee "$LOG/throughput_prior_cuda.txt"
bench 200 --estimator kernelgan --modes batch,serial 2>&1 | tee "$LOG/throughput_kernelgan_cuda.txt"
bench 150 --estimator kernelgan-paper --modes batch 2>&1 | tee "$LOG/throughput_kernelgan_paper_cuda.txt"
