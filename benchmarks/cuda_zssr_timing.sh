#!/usr/bin/env bash
# ZSSR's seconds per image on a GPU, each run alone (cuda_check.sh's phase 2 runs 32 processes at once, so its
# seconds are not speed figures): true kernel, published settings and our defaults, x2 on 3 and x4 on 2 of
# DIV2KRK's HR images. Usage: benchmarks/cuda_zssr_timing.sh DATA LOGDIR
set -u
DATA=$1; LOG=$2
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD"
sr() { timeout "$1" python3 benchmarks/sr_div2krk.py --data "$DATA" --device cuda --methods zssr-true "${@:2}"; }
sr 60 --limit 3 --zssr-published 2>&1 | tee "$LOG/x2_published.txt"
sr 50 --limit 3 2>&1 | tee "$LOG/x2_defaults.txt"
sr 70 --limit 2 --scale 4 --zssr-published 2>&1 | tee "$LOG/x4_published.txt"
sr 60 --limit 2 --scale 4 2>&1 | tee "$LOG/x4_defaults.txt"
