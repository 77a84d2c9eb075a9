#!/bin/bash
# The H200 runs of 2026-12-01 (see h200-2026-12-01-command.md). On the device machine, repository root:
#     bash benchmarks/results/h200-2026-12-01-run.sh A     # decay, GLA, delta, gated delta vs fla (+ warm-up)
#     bash benchmarks/results/h200-2026-12-01-run.sh B     # SDPA backends, normalised / unnormalised linear vs fla
# The warm-up (first calls: Triton JIT, inductor compiles, into on-disk caches) runs once per machine, in
# parallel processes that time nothing; each timed step then runs alone on the GPU, and fla autotunes there
# (FLA_CACHE_RESULTS=0) at T = 16384, not under the warm-up's contention.
set -u
phase=$1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/ind FLA_CACHE_RESULTS=0
S="python3 -m benchmarks.speed --device cuda --T 1024,4096,16384,65536 --keep-going"
A=fla_simple_gla,decay_compiled,decay_fast,decay_ref,fla_gla,gla_compiled,gla_fast,fla_delta,delta_compiled,delta_fast,delta_ref,fla_gated_delta
python3 -c "import linattn_edu.torch.gated_delta" 2>/dev/null && A=$A,gated_delta_ref
B=sdpa,sdpa_flash,sdpa_cudnn,fla_chunk,fla_chunk_unnorm,chunked_compiled,chunked_compiled_auto,unnorm_compiled
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit,temperature.gpu,memory.used \
    --format=csv > $OUT/nvidia-smi-$phase.txt 2>&1
warm() { (timeout $1 $S --methods $2 --warm-only > $OUT/warm-$3.log 2>&1; echo "rc=$? at $SECONDS s" >> $OUT/warm-$3.log) & }
if [ ! -f /tmp/warmed ]; then
    warm 270 fla_simple_gla,fla_gla,fla_delta,fla_gated_delta,fla_chunk,fla_chunk_unnorm fla
    warm 270 chunked_compiled,chunked_compiled_auto,unnorm_compiled lin
    warm 270 decay_compiled decay
    warm 270 gla_compiled gla
    warm 270 delta_compiled delta
    warm 200 decay_fast,decay_ref,gla_fast,delta_fast,delta_ref,sdpa,sdpa_flash,sdpa_cudnn eager
    (TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 TORCHINDUCTOR_CACHE_DIR=/tmp/ind_cold timeout 270 $S --compile-cost \
        --out $OUT/h200-2026-12-01-compile-cost.json > $OUT/compile-cost.log 2>&1) &
    python3 -m benchmarks.gpu_check > $OUT/h200-2026-12-01-gpu_check.txt 2>&1
    wait
    touch /tmp/warmed
    echo "warm-up done at $SECONDS s"; tail -n 3 $OUT/warm-*.log $OUT/compile-cost.log; tail -n 4 $OUT/h200-2026-12-01-gpu_check.txt
fi
if [ $phase = A ]; then M=$A; P=decay_compiled,delta_compiled,fla_simple_gla,fla_delta; PT=16384
else M=$B; P=fla_chunk,chunked_compiled,fla_chunk_unnorm,unnorm_compiled; PT=65536; fi
left=$((585 - SECONDS))
timeout $left $S --methods $M --deadline-s $((left - 100)) --profile-T $PT --profile-methods $P --profile-top 25 \
    --out $OUT/h200-2026-12-01-$phase.json 2>&1 | tee $OUT/speed-$phase.log | grep -v skipped | tail -n 75
echo "phase $phase done at $SECONDS s"
