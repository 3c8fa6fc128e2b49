#!/usr/bin/env bash
# The image engine spike (docs/images.md "Engine choice"): builds bench/image_spike into
# build-spike/ inside the forky root and runs the SD 1.5 block on libtorch (ATen) and ggml
# (CPU backend, and with its BLAS backend) at 1 and 2 threads, best of RUNS (default 5) after
# a warm-up. The torch run writes the f32 reference output that the ggml run compares with.
#
# Usage: bench/image_spike/run.sh [RUNS] [THREADS...]    (e.g. bench/image_spike/run.sh 5 2 1)
# SPIKE_ONLY="part;part" runs only the block configurations whose names contain a part (the
# torch f32 contiguous math reference always runs); SPIKE_NOMMAP=1 adds a torch pass with
# glibc's mmap for large blocks turned off (freed memory stays in the heap, no fresh page faults).
# The ggml+BLAS rows need ggml's BLAS backend, which the root does not carry (llama.cpp would
# load it into Basalt's text engine and llama-server): install it for the spike only with
# `scripts/forky apt-get install -y libggml0-backend-blas`, and remove it afterwards.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
runs=${1:-5}
shift || true
if [ $# -gt 0 ]; then threads=("$@"); else threads=(2 1); fi
if [ -z "${BASALT_IN_ROOT:-}" ]; then
  # scripts/forky starts from an empty environment: carry the two knobs over.
  exec scripts/forky env SPIKE_ONLY="${SPIKE_ONLY:-}" SPIKE_NOMMAP="${SPIKE_NOMMAP:-0}" \
    bash "bench/image_spike/run.sh" "$runs" "${threads[@]}"
fi
unset OPENBLAS_CORETYPE  # forcing a core type makes OpenBLAS slowest here
cmake -S bench/image_spike -B build-spike -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-spike -j2 >/dev/null
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) load: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in "${threads[@]}"; do
  build-spike/spike_torch "$t" "$runs" build-spike
  if [ "${SPIKE_NOMMAP:-0}" = 1 ]; then
    build-spike/spike_torch "$t" "$runs" build-spike nommap | grep -v GEMM
  fi
  build-spike/spike_ggml "$t" "$runs" build-spike
done
echo "# done $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
