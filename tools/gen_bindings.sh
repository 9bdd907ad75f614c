#!/usr/bin/env bash
# Regenerates the protobuf-c bindings in Sources/CONNX from the onnx.proto that
# Debian's libonnx-dev installs. With --check, regenerates into a temporary
# folder and fails if the committed copy differs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
proto=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
[ -f "$proto" ] || { echo "gen_bindings: $proto not found (install libonnx-dev)" >&2; exit 1; }
command -v protoc-c >/dev/null || { echo "gen_bindings: protoc-c not found (install protobuf-c-compiler)" >&2; exit 1; }

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# Run protoc-c on a copy so the generated comments name only "onnx.proto".
cp "$proto" "$work/onnx.proto"
(cd "$work" && protoc-c --c_out=. onnx.proto)

dest_c="$root/Sources/CONNX/onnx.pb-c.c"
dest_h="$root/Sources/CONNX/include/onnx.pb-c.h"
if [ "${1:-}" = "--check" ]; then
  if cmp -s "$work/onnx.pb-c.c" "$dest_c" && cmp -s "$work/onnx.pb-c.h" "$dest_h"; then
    echo "bindings: committed protobuf-c code matches $proto"
  else
    echo "bindings: Sources/CONNX differs from protoc-c output for $proto; run tools/gen_bindings.sh" >&2
    diff -u "$dest_h" "$work/onnx.pb-c.h" | head -20 >&2 || true
    exit 1
  fi
else
  cp "$work/onnx.pb-c.c" "$dest_c"
  cp "$work/onnx.pb-c.h" "$dest_h"
  echo "bindings: wrote $dest_c and $dest_h"
fi
