#!/bin/sh
# Stages the face models and the ONNX Runtime library for the container image and writes the
# SHA256SUMS the entrypoint checks at every start. The digests are the repository's pins
# (models/checksums.sha256), never computed from the files being staged, so a wrong file fails
# here at build time and a changed layer fails at start.
#
#   k8s/image/stage-models.sh REPO_ROOT DEST PREFIX
#
# copies REPO_ROOT/models/dist/{yunet,sface}.onnx and libonnxruntime.so.1.31.0 to DEST/models/dist/
# (the layout of the repository, so the image's working directory PREFIX makes the built-in
# defaults models.dir and models.ort_dylib right), and writes DEST/SHA256SUMS naming them under
# PREFIX (where DEST is installed: /opt/simgate in the image). Used by the Dockerfile and by
# k8s/tests/check_manifests.py.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 REPO_ROOT DEST PREFIX" >&2; exit 2; }
repo=$1 dest=$2 prefix=$3
pins="$repo/models/checksums.sha256"
mkdir -p "$dest/models/dist"
: >"$dest/SHA256SUMS"
for file in yunet.onnx sface.onnx libonnxruntime.so.1.31.0; do
    digest=$(awk -v p="models/dist/$file" '$2 == p { print $1 }' "$pins")
    [ -n "$digest" ] || { echo "stage-models: no pin for models/dist/$file in $pins" >&2; exit 1; }
    cp "$repo/models/dist/$file" "$dest/models/dist/$file"
    chmod 0444 "$dest/models/dist/$file"
    # the check right now (staged path), then the line the entrypoint uses (installed path)
    echo "$digest  $dest/models/dist/$file" | sha256sum --check --strict --quiet ||
        { echo "stage-models: models/dist/$file does not match its pin" >&2; exit 1; }
    echo "$digest  $prefix/models/dist/$file" >>"$dest/SHA256SUMS"
done
chmod 0444 "$dest/SHA256SUMS"
echo "stage-models: staged and verified $(wc -l <"$dest/SHA256SUMS") files in $dest"
