#!/usr/bin/env bash
# Compiles every kernel of the given artifact folders (their kernels.cl) or .cl files for
# gfx803 with clang-15, prints a table (kernel, VGPRs, SGPRs, scratch, LDS, spills,
# occupancy, s_swappc) and exits 1 on a compile error, scratch, spills, an s_swappc call,
# or a GEMM/GEMV kernel below 4 waves per SIMD (issue 7, item 5). Uses `quantc gcn-check`.
#   tools/check_gcn.sh OUT.qc/ [more.qc/ kernels.cl ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || { echo "usage: $0 ARTIFACT_DIR_OR_CL_FILE..." >&2; exit 64; }
quantc="$root/.build/release/quantc"
if [ ! -x "$quantc" ]; then
  (cd "$root" && swift build -c release --product quantc >&2)
fi
exec "$quantc" gcn-check "$@"
