#!/usr/bin/env bash
# Deploys one overlay in the order a release needs, with kubectl (and its built-in kustomize):
#   1. everything except the API (namespace, ConfigMap, policies, Job templates, the migration Job),
#      after deleting the previous release's migration Job (a Job's pod template is immutable);
#   2. waits for the migration Job: the schema is migrated once, before any new replica starts;
#   3. everything, then waits for the API rollout.
#
#   k8s/deploy.sh dev|production
#
# The Secrets simgate-secrets and simgate-db-app must exist (k8s/README.md, "Secrets").
set -euo pipefail
overlay=${1:-}
case $overlay in
dev) namespace=simgate-dev ;;
production) namespace=simgate ;;
*) echo "usage: $0 dev|production" >&2; exit 2 ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")"
manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
kubectl kustomize "overlays/$overlay" >"$manifest"

kubectl -n "$namespace" delete job simgate-migrate --ignore-not-found --wait=true 2>/dev/null || true
kubectl apply -f "$manifest" -l 'app.kubernetes.io/component notin (api)'
for secret in simgate-secrets simgate-db-app; do
    kubectl -n "$namespace" get secret "$secret" >/dev/null ||
        { echo "deploy: Secret $secret missing in $namespace (k8s/README.md, Secrets)" >&2; exit 1; }
done
if ! kubectl -n "$namespace" wait --for=condition=complete job/simgate-migrate --timeout=15m; then
    kubectl -n "$namespace" logs job/simgate-migrate --all-containers --tail=50 >&2 || true
    echo "deploy: migrations did not complete; the API was not touched" >&2
    exit 1
fi
kubectl apply -f "$manifest"
kubectl -n "$namespace" rollout status deployment/simgate-api --timeout=10m
