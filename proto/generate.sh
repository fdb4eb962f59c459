#!/usr/bin/env bash
# Regenerates Sources/COnnxProto from the onnx.proto that the pinned onnx wheel ships.
#   proto/generate.sh            writes Sources/COnnxProto/{onnx.pb-c.c,include/onnx.pb-c.h}
#   proto/generate.sh --check    fails if the committed files differ from a fresh run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
want=$(cat "$root/proto/ONNX_VERSION")
have=$(python3 -c 'import onnx; print(onnx.__version__)')
if [ "$have" != "$want" ]; then
  echo "proto/generate.sh: onnx $have is installed, proto/ONNX_VERSION pins $want (run make deps)" >&2
  exit 1
fi
dir=$(python3 -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
protoc-c --c_out="$out" -I "$dir" "$dir/onnx.proto"
if [ "${1:-}" = "--check" ]; then
  diff -u "$root/Sources/COnnxProto/onnx.pb-c.c" "$out/onnx.pb-c.c"
  diff -u "$root/Sources/COnnxProto/include/onnx.pb-c.h" "$out/onnx.pb-c.h"
  echo "generated protobuf-c code is current (onnx $want, $(protoc-c --version | head -1))"
else
  cp "$out/onnx.pb-c.c" "$root/Sources/COnnxProto/onnx.pb-c.c"
  cp "$out/onnx.pb-c.h" "$root/Sources/COnnxProto/include/onnx.pb-c.h"
fi
