#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/cpu_bench.sh [CONFIG_JSON] [prompt] [decode] [threads] [batch] [stream_mib]
# CPU engine benchmark: STREAM-like memory bandwidth, then a dummy-weight
# model of the config's shape (default Qwen3-0.6B, bf16): prefill tokens/s,
# batch-1 decode tokens/s and its fraction of the bandwidth roofline, and
# batch-B decode. JSON lines on stdout. Builds the release tree first.
set -euo pipefail
cd "$(dirname "$0")/.."
cfg=${1:-tests/data/configs/Qwen__Qwen3-0.6B.config.json}
./scripts/build build >/dev/null
# OpenBLAS 0.3.21 does not know AMD family 26 (Zen 5) and falls back to its
# AVX2 Haswell kernels; its AVX-512 SkylakeX kernels run there (~1.4x sgemm).
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has_avx512() {
  for f in avx512f avx512bw avx512dq avx512vl; do [[ " $flags " == *" $f "* ]] || return 1; done
}
# An explicit OPENBLAS_CORETYPE (some environments pin Haswell) is kept.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && has_avx512; then export OPENBLAS_CORETYPE=SkylakeX; fi
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}" >&2
echo "# $(date -u +%FT%TZ) $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)" >&2
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
build/tool_cpu_bench "$cfg" "${2:-512}" "${3:-32}" "${4:-0}" "${5:-8}" "${6:-768}"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
