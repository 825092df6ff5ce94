# syntax=docker/dockerfile:1
# simgate container image: the release binary, ONNX Runtime 1.31.0 and the face models on Debian 12
# slim, running as uid 10001. Build from the repository root:
#
#   docker build -t simgate:0.1.0 .
#
# The image works with a read-only root filesystem (only /tmp is written, an emptyDir in
# Kubernetes). Its entrypoint checks every model and the ONNX Runtime library against the digests
# pinned in models/checksums.sha256 before simgate starts (k8s/image/entrypoint.sh).
# This file was not built in the project's CI or development machines (no container daemon
# there): see k8s/README.md, "Container image".

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- models: fetched, converted and verified exactly as scripts/setup.sh does it; the onnxruntime
#      wheel (models/requirements.txt) provides libonnxruntime.so.1.31.0
FROM ${PYTHON_IMAGE} AS models
WORKDIR /src
COPY models/requirements.txt models/fetch_models.py models/checksums.sha256 models/
RUN python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-input -r models/requirements.txt
RUN /venv/bin/python models/fetch_models.py
COPY k8s/image/stage-models.sh /usr/local/bin/stage-models
RUN stage-models /src /stage /opt/simgate

# ---- builder: the release binary (ONNX Runtime is loaded at run time, `ort` feature load-dynamic)
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY services services
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p simgate \
    && install -m 0755 target/release/simgate /simgate

# ---- runtime
FROM ${RUNTIME_IMAGE}
# ca-certificates: HTTPS to SMS relays and webhook receivers (rustls with the system roots);
# libstdc++6: needed by libonnxruntime.so
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 simgate \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin simgate
# root-owned and read-only for uid 10001: nothing the service runs as can change them
COPY --from=models /stage /opt/simgate
COPY --from=builder /simgate /usr/local/bin/simgate
COPY --chmod=0755 k8s/image/entrypoint.sh /usr/local/bin/simgate-entrypoint
RUN sha256sum --check --strict /opt/simgate/SHA256SUMS
# The built-in defaults models.dir = "models/dist" and models.ort_dylib resolve from here.
WORKDIR /opt/simgate
USER 10001:10001
EXPOSE 8080
# For `docker run`; Kubernetes uses the probes of the Deployment instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD ["/usr/local/bin/simgate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/simgate-entrypoint"]
CMD ["serve"]
