#!/bin/sh
# Container entrypoint: verifies the models and ONNX Runtime baked into the image against the
# digests pinned at build (SHA256SUMS, from models/checksums.sha256) before simgate can load them,
# then becomes simgate (exec: it receives SIGTERM directly and drains in-flight requests).
# A mismatch (corrupted or tampered layer) exits 70 and the pod never becomes ready.
set -eu
sums=${SIMGATE_MODEL_SUMS:-/opt/simgate/SHA256SUMS}
if ! sha256sum --check --strict --quiet "$sums" >&2; then
    echo "simgate-entrypoint: model or ONNX Runtime checksum mismatch against $sums; refusing to start" >&2
    exit 70
fi
exec "${SIMGATE_BIN:-/usr/local/bin/simgate}" "$@"
