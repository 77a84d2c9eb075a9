#!/bin/bash
# The H200 run of 2026-12-02 (see h200-2026-12-02-command.md): every fast path of ours, our Triton kernels and
# fla 0.6.0's kernels in ONE timed process, alone on the GPU. Two device calls on one machine, repository root:
#     bash benchmarks/results/h200-2026-12-02-run.sh warm    # first calls into the on-disk caches; nothing timed
#     bash benchmarks/results/h200-2026-12-02-run.sh timed   # the measurement: h200-2026-12-02.json (+ .profile.txt)
# warm, phase 1: one process per compiled method and mode, per fla kernel (its Triton JIT compiles every autotune
# config, FLA_CACHE_RESULTS=0: no choice stored), the Triton kernels, gpu_check, all in parallel (16 cores).
# warm, phase 2: fla alone on the GPU with FLA_CACHE_RESULTS=1: the autotuner times every config (binaries now
# cached) and stores its choice on disk; the compile cost (inductor caches off) runs beside it on the CPU.
# timed: one process, FLA_CACHE_RESULTS=1 (fla reuses the choices made alone in phase 2), caches warm.
set -u
phase=$1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/ind TRITON_CACHE_DIR=/tmp/triton
export TORCHINDUCTOR_COMPILE_THREADS=1
T=1024,4096,16384,32768,65536
S="python3 -m benchmarks.speed --device cuda --T $T --check-T 4096 --keep-going --no-long-check"
FLA=fla_chunk,fla_chunk_unnorm,fla_simple_gla,fla_gla,fla_delta,fla_gated_delta
COMPILED="chunked_compiled unnorm_compiled decay_compiled gla_compiled delta_compiled gated_delta_compiled"
M=fla_chunk_unnorm,unnorm_compiled,triton_unnorm,fla_chunk,chunked_compiled,triton_norm
M=$M,fla_simple_gla,decay_compiled,decay_fast,fla_gla,gla_compiled,gla_fast
M=$M,fla_delta,delta_compiled,delta_fast,delta_ref,fla_gated_delta,gated_delta_compiled,gated_delta_fast
M=$M,sdpa,sdpa_cudnn,sdpa_flash
P=fla_chunk_unnorm,unnorm_compiled,triton_unnorm,fla_chunk,chunked_compiled,triton_norm,fla_simple_gla,decay_compiled
P=$P,fla_gla,gla_compiled,fla_delta,delta_compiled,fla_gated_delta,gated_delta_compiled
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit,temperature.gpu,memory.used \
    --format=csv > $OUT/nvidia-smi-$phase.txt 2>&1
if [ $phase = warm ]; then
    mkdir -p /tmp/wl
    warm() {   # timeout, methods, modes, log name, extra flags
        (FLA_CACHE_RESULTS=0 timeout $1 $S --methods $2 --modes $3 --warm-only $5 > /tmp/wl/warm-$4.log 2>&1
         echo "rc=$? at $SECONDS s" >> /tmp/wl/warm-$4.log) &
    }
    warm 390 fla_chunk,fla_chunk_unnorm fwd,fwd+bwd fla-linear ""
    warm 390 fla_simple_gla fwd,fwd+bwd fla-simple-gla ""
    warm 390 fla_gla fwd fla-gla-fwd --no-check
    warm 390 fla_gla fwd+bwd fla-gla-bwd ""
    warm 390 fla_delta fwd,fwd+bwd fla-delta ""
    warm 390 fla_gated_delta fwd,fwd+bwd fla-gated-delta ""
    for m in $COMPILED; do
        warm 390 $m fwd $m-fwd --no-check
        warm 390 $m fwd+bwd $m-bwd ""
    done
    warm 300 triton_norm,triton_unnorm fwd,fwd+bwd triton ""
    (timeout 300 python3 -m benchmarks.gpu_check > $OUT/h200-2026-12-02-gpu_check.txt 2>&1) &
    wait
    echo "phase 1 done at $SECONDS s"
    grep -H "^rc=" /tmp/wl/warm-*.log
    (TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 TORCHINDUCTOR_CACHE_DIR=/tmp/ind_cold timeout $((560 - SECONDS)) \
        python3 -m benchmarks.speed --device cuda --compile-cost --out $OUT/h200-2026-12-02-compile-cost.json \
        > /tmp/wl/compile-cost.log 2>&1) &
    FLA_CACHE_RESULTS=1 timeout $((565 - SECONDS)) $S --methods $FLA --warm-only > /tmp/wl/warm-fla-alone.log 2>&1
    echo "fla alone: rc=$? at $SECONDS s"
    wait
    touch /tmp/warmed
    echo "warm done at $SECONDS s"
    for f in /tmp/wl/*.log; do echo "== $f"; grep -v "skipped" $f | tail -n 40; done > $OUT/warm-logs.txt
    grep -h "rc=\|Error\|error" /tmp/wl/*.log | sort | uniq -c | head -40
    tail -n 4 /tmp/wl/compile-cost.log; tail -n 3 $OUT/h200-2026-12-02-gpu_check.txt
    ls /tmp/triton | wc -l; du -sh /tmp/triton /tmp/ind
else
    [ -f /tmp/warmed ] || echo "WARNING: not warmed on this machine (first calls will compile)"
    FLA_CACHE_RESULTS=1 timeout 575 $S --methods $M --deadline-s 390 --end-s 540 --profile-T 16384 \
        --profile-methods $P --profile-top 40 --out $OUT/h200-2026-12-02.json 2>&1 | tee $OUT/speed.log \
        | grep -v skipped | tail -n 120
    echo "timed done at $SECONDS s"
fi
