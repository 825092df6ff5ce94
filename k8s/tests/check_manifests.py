#!/usr/bin/env python3
"""`make test`'s check of the Kubernetes deployment (k8s/): offline, no cluster needed.

    .venv/bin/python k8s/tests/check_manifests.py

1. renders k8s/overlays/{dev,production} and k8s/monitoring with k8s/render.py and requires the
   committed k8s/rendered/*.yaml to equal a fresh render; where `kubectl` is on the PATH, also
   requires its built-in kustomize to produce the same objects;
2. validates every rendered Kubernetes object against the OpenAPI schemas of Kubernetes 1.30
   (oldest supported) and 1.37 (newest in kubernetes-validate 1.37.0), strict: unknown fields fail;
3. checks the security and operational settings the deployment promises (one line per check);
4. checks the alert rules name only metrics simgate exports, and the image scripts: staged
   models verify, a tampered model stops the entrypoint.

Prints one line per check and `k8s manifests: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

K8S = Path(__file__).resolve().parents[1]
ROOT = K8S.parent
sys.path.insert(0, str(K8S))
import render  # noqa: E402  (k8s/render.py)

KUBERNETES_VERSIONS = ("1.30", "1.37")
API_PORT = 8080
# measured worst case of one replica (k8s/README.md, "Sizing"): the memory limit must hold it
MEASURED_WORST_CASE_MIB = 1300
SECRET_SETTINGS = {  # config keys that are secrets: only ever given as *_FILE
    "SIMGATE__DATABASE__URL", "SIMGATE__ENCRYPTION__KEYS", "SIMGATE__WEBHOOKS__SECRET",
    "SIMGATE__SMS__KANNEL__PASSWORD", "SIMGATE__SMS__WEBHOOK__SECRET",
}

results: list[tuple[bool, str, str]] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    results.append((bool(ok), name, detail))
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok or not detail else ': ' + detail}", flush=True)
    return bool(ok)


def problems_of(name: str, problems: list[str]) -> None:
    check(name, not problems, "; ".join(problems[:8]) + (f" (+{len(problems) - 8} more)" if len(problems) > 8 else ""))


# ------------------------------------------------------------------------------------------
# helpers over rendered objects
# ------------------------------------------------------------------------------------------

def pod_templates(objects):
    """(label, pod metadata, pod spec) for every workload."""
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in ("Deployment", "Job"):
            template = obj["spec"]["template"]
        elif kind == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
        else:
            continue
        yield f"{kind}/{name}", template.get("metadata", {}), template["spec"]


def containers(spec):
    return spec.get("initContainers", []) + spec.get("containers", [])


def find(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return found[0] if name is not None and found else (found if name is None else None)


def selects(selector: dict, labels: dict) -> bool:
    if selector.get("matchExpressions"):
        raise AssertionError("matchExpressions not expected in simgate's selectors")
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def simgate_config(objects) -> dict:
    config_map = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("simgate-config"))
    return tomllib.loads(config_map["data"]["simgate.toml"])


def effective(config: dict, env: dict, section: str, key: str, default=None):
    """A setting as simgate sees it: the TOML file, overridden by SIMGATE__SECTION__KEY."""
    variable = f"SIMGATE__{section.upper()}__{key.upper()}"
    if variable in env:
        return yaml.safe_load(env[variable])
    return config.get(section, {}).get(key, default)


def mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]*)", str(quantity))
    return float(match.group(1)) * units.get(match.group(2), 1 / 2**20)


# ------------------------------------------------------------------------------------------
# 1. rendering
# ------------------------------------------------------------------------------------------

def check_rendering() -> dict[str, list[dict]]:
    rendered = {}
    for name, directory in render.TARGETS.items():
        try:
            text = render.render(directory)
        except render.RenderError as error:
            check(f"render {name}", False, str(error))
            continue
        rendered[name] = list(yaml.safe_load_all(text))
        committed = render.RENDERED / f"{name}.yaml"
        check(f"render {name}: k8s/rendered/{name}.yaml is current",
              committed.is_file() and committed.read_text() == text,
              "stale or missing: run .venv/bin/python k8s/render.py --write")
        kubectl = shutil.which("kubectl")
        if kubectl:
            run = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
            same = run.returncode == 0 and list(yaml.safe_load_all(run.stdout)) == rendered[name]
            check(f"render {name}: kubectl kustomize renders the same objects", same,
                  run.stderr.strip() or "objects differ: compare `kubectl kustomize` with render.py output")
        else:
            print(f"skip render {name}: no kubectl on PATH to cross-check render.py against kustomize")
    return rendered


# ------------------------------------------------------------------------------------------
# 2. schemas
# ------------------------------------------------------------------------------------------

def check_schemas(name: str, objects: list[dict]) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        check(f"{name}: schemas", False, "kubernetes-validate is not installed in .venv: run scripts/setup.sh")
        return

    for version in KUBERNETES_VERSIONS:
        problems = []
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(p) for p in error.path)
                problems.append(f"{obj['kind']}/{obj['metadata']['name']} {path}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                problems.append(error.message)
        problems_of(f"{name}: {len(objects)} objects valid against Kubernetes {version} OpenAPI (strict)", problems)


# ------------------------------------------------------------------------------------------
# 3. security and operations
# ------------------------------------------------------------------------------------------

def check_overlay(name: str, objects: list[dict]) -> None:
    production = name == "production"
    templates = list(pod_templates(objects))
    config = simgate_config(objects)

    problems = []
    for where, _, spec in templates:
        pod_sc = spec.get("securityContext", {})
        if pod_sc.get("runAsNonRoot") is not True or not pod_sc.get("runAsUser"):
            problems.append(f"{where}: pod runAsNonRoot/runAsUser")
        if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: pod seccompProfile")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: automountServiceAccountToken not false")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            problems.append(f"{where}: host namespaces")
        for c in containers(spec):
            sc, who = c.get("securityContext", {}), f"{where}/{c['name']}"
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{who}: allowPrivilegeEscalation")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{who}: readOnlyRootFilesystem")
            if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("capabilities", {}).get("add"):
                problems.append(f"{who}: capabilities must drop ALL and add none")
            if sc.get("privileged"):
                problems.append(f"{who}: privileged")
            if sc.get("runAsNonRoot") is False or sc.get("runAsUser") == 0:
                problems.append(f"{who}: runs as root")
            if sc.get("seccompProfile", {}).get("type", "RuntimeDefault") != "RuntimeDefault":
                problems.append(f"{who}: seccompProfile")
    problems_of(f"{name}: every pod and container non-root, read-only root fs, no escalation, drop ALL, seccomp RuntimeDefault, no SA token ({len(templates)} pod templates)", problems)

    problems = []
    for sa in find(objects, "ServiceAccount"):
        if sa.get("automountServiceAccountToken") is not False:
            problems.append(f"ServiceAccount/{sa['metadata']['name']}")
    for where, _, spec in templates:
        if spec.get("serviceAccountName") != "simgate":
            problems.append(f"{where}: serviceAccountName")
    problems_of(f"{name}: ServiceAccount without token automount, used by every pod", problems)

    problems = []
    for where, _, spec in templates:
        for c in containers(spec):
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in res.get(part, {}):
                        problems.append(f"{where}/{c['name']}: {part}.{resource}")
    problems_of(f"{name}: resource requests and limits (cpu, memory) on every container", problems)

    namespace = find(objects, "Namespace")
    check(f"{name}: namespace enforces Pod Security 'restricted'",
          len(namespace) == 1 and namespace[0]["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "restricted")

    # -- secrets only as files
    problems = []
    for where, _, spec in templates:
        secret_mounts = {}
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in containers(spec):
            mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
            for env in c.get("env", []):
                who = f"{where}/{c['name']} {env['name']}"
                if "secretKeyRef" in env.get("valueFrom", {}):
                    problems.append(f"{who}: secret as an environment value")
                if env["name"] in SECRET_SETTINGS:
                    problems.append(f"{who}: a secret setting given inline (use {env['name']}_FILE)")
                if env["name"].startswith("SIMGATE__") and env["name"].endswith("_FILE"):
                    path = env.get("value", "")
                    ok = False
                    for volume_name, mount in mounts.items():
                        volume = volumes.get(volume_name, {})
                        sources = volume.get("projected", {}).get("sources", [])
                        if "secret" in volume:
                            sources = [{"secret": volume["secret"]}]
                        files = [item["path"] for s in sources if "secret" in s for item in s["secret"].get("items", [])]
                        if sources and mount.get("readOnly") and any(path == f"{mount['mountPath']}/{f}" for f in files):
                            ok = True
                            secret_mounts[path] = volume_name
                    if not ok:
                        problems.append(f"{who}: {path} is not a file of a read-only mounted Secret")
            for env_from in c.get("envFrom", []):
                if "secretRef" in env_from:
                    problems.append(f"{where}/{c['name']}: envFrom secretRef")
    for section, key in (("database", "url"), ("encryption", "keys"), ("webhooks", "secret")):
        if key in config.get(section, {}):
            problems.append(f"ConfigMap holds the secret {section}.{key}")
    for provider in ("kannel", "webhook"):
        for key in ("password", "secret"):
            if key in config.get("sms", {}).get(provider, {}):
                problems.append(f"ConfigMap holds the secret sms.{provider}.{key}")
    if find(objects, "Secret"):
        problems.append("a Secret object is rendered (secrets must never be in the repository)")
    problems_of(f"{name}: secrets only as read-only mounted files (*_FILE), none in env, ConfigMap or repository", problems)

    # -- the API Deployment
    deployment = find(objects, "Deployment", "simgate-api")
    if not check(f"{name}: Deployment simgate-api exists", deployment is not None):
        return
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    spec = deployment["spec"]["template"]["spec"]
    api = next(c for c in spec["containers"] if c["name"] == "simgate")
    env = {e["name"]: e.get("value") for e in api.get("env", [])}

    commands = [" ".join(c.get("command", []) + c.get("args", [])) for c in containers(spec)]
    check(f"{name}: API serves and never migrates (migrate_on_start false, no migrate container)",
          api.get("args") == ["serve"] and effective(config, env, "database", "migrate_on_start") is False
          and not any("migrate" in c for c in commands), f"args {api.get('args')}, commands {commands}")

    probes = {k: api.get(k, {}).get("httpGet", {}) for k in ("startupProbe", "readinessProbe", "livenessProbe")}
    port_names = {p.get("name"): p["containerPort"] for p in api.get("ports", [])}

    def port_of(probe):
        return port_names.get(probe.get("port"), probe.get("port"))

    check(f"{name}: probes: startup and readiness on /readyz, liveness on /healthz, port {API_PORT}",
          probes["startupProbe"].get("path") == "/readyz" and probes["readinessProbe"].get("path") == "/readyz"
          and probes["livenessProbe"].get("path") == "/healthz"
          and all(port_of(p) == API_PORT for p in probes.values())
          and effective(config, env, "server", "port") == API_PORT
          and effective(config, env, "server", "host") == "0.0.0.0", str(probes))

    grace = effective(config, env, "server", "shutdown_grace_secs", 25)
    pre_stop = api.get("lifecycle", {}).get("preStop", {})
    sleep = pre_stop.get("sleep", {}).get("seconds")
    command = pre_stop.get("exec", {}).get("command", [])
    if sleep is None and len(command) == 2 and command[0].endswith("sleep"):
        sleep = int(command[1])
    tgps = spec.get("terminationGracePeriodSeconds", 30)
    check(f"{name}: terminationGracePeriodSeconds {tgps} > preStop sleep {sleep} + shutdown_grace_secs {grace}",
          sleep is not None and sleep > 0 and tgps > sleep + grace)

    limit = mib(api["resources"]["limits"]["memory"])
    check(f"{name}: API memory limit {limit:.0f} MiB holds the measured worst case ({MEASURED_WORST_CASE_MIB} MiB)",
          limit >= MEASURED_WORST_CASE_MIB)

    check(f"{name}: Deployment leaves replicas to the HPA", "replicas" not in deployment["spec"])
    strategy = deployment["spec"].get("strategy", {}).get("rollingUpdate", {})
    check(f"{name}: rolling updates never go below capacity (maxUnavailable 0)", strategy.get("maxUnavailable") == 0)

    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    check(f"{name}: Prometheus scrape annotations on the API pods",
          annotations.get("prometheus.io/scrape") == "true" and annotations.get("prometheus.io/port") == str(API_PORT)
          and annotations.get("prometheus.io/path") == "/metrics")

    service = find(objects, "Service", "simgate-api")
    check(f"{name}: Service selects the API pods on port http",
          service is not None and selects({"matchLabels": service["spec"]["selector"]}, pod_labels)
          and any(p.get("targetPort") in ("http", API_PORT) for p in service["spec"]["ports"]))

    hpa = find(objects, "HorizontalPodAutoscaler", "simgate-api")
    metrics = (hpa or {}).get("spec", {}).get("metrics", [])
    cpu = any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in metrics)
    in_flight = any(m["type"] == "Pods" and m["pods"]["metric"]["name"] == "simgate_inference_in_flight" for m in metrics)
    check(f"{name}: HPA on the Deployment with CPU{' and in-flight inference' if production else ''}",
          hpa is not None and hpa["spec"]["scaleTargetRef"]["name"] == "simgate-api"
          and hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment" and cpu and (in_flight or not production)
          and hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"])

    pdb = find(objects, "PodDisruptionBudget", "simgate-api")
    pdb_ok = pdb is not None and selects(pdb["spec"]["selector"], pod_labels)
    if production and pdb_ok:
        pdb_ok = hpa["spec"]["minReplicas"] >= 3 and pdb["spec"].get("maxUnavailable") == 1
    check(f"{name}: PodDisruptionBudget covers the API pods", pdb_ok)

    spread = {(t["topologyKey"], t["whenUnsatisfiable"]) for t in spec.get("topologySpreadConstraints", [])
              if selects(t["labelSelector"], pod_labels)}
    zone = "DoNotSchedule" if production else "ScheduleAnyway"
    check(f"{name}: topology spread over zones ({zone}) and nodes",
          ("topology.kubernetes.io/zone", zone) in spread and any(k == "kubernetes.io/hostname" for k, _ in spread)
          and len({k for k, _ in spread}) == len(spread), str(sorted(spread)))

    images = {c["image"] for _, _, s in templates for c in containers(s)}
    check(f"{name}: one simgate image everywhere{', pinned (not dev/latest)' if production else ''}",
          len(images) == 1 and (not production or not re.search(r":(dev|latest)$", next(iter(images)))), str(images))

    # -- network policies
    check_network(name, objects, templates)

    # -- jobs
    migrate = find(objects, "Job", "simgate-migrate")
    migrate_spec = migrate["spec"]["template"]["spec"] if migrate else {}
    check(f"{name}: migration Job runs `simgate migrate` once (restartPolicy Never, bounded retries)",
          migrate is not None and any(c.get("args", [])[:1] == ["migrate"] for c in containers(migrate_spec))
          and migrate_spec.get("restartPolicy") == "Never" and migrate["spec"].get("backoffLimit", 6) <= 3)

    reverify = find(objects, "CronJob", "simgate-reverify")
    if check(f"{name}: re-verification Indexed Job template exists", reverify is not None):
        job = reverify["spec"]["jobTemplate"]["spec"]
        args = job["template"]["spec"]["containers"][0].get("args", [])
        shard_count = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--shard-count"), None)
        check(f"{name}: reverify: suspended template, Indexed, --shard-count = completions ({job.get('completions')})",
              reverify["spec"].get("suspend") is True and job.get("completionMode") == "Indexed"
              and args[:1] == ["reverify"] and str(job.get("completions")) == str(shard_count)
              and job["template"]["spec"].get("restartPolicy") == "Never", f"args {args}")

    purge = find(objects, "CronJob", "simgate-purge")
    check(f"{name}: retention purge CronJob (`simgate purge`, never overlapping)",
          purge is not None and purge["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].get("args") == ["purge"]
          and purge["spec"].get("concurrencyPolicy") == "Forbid")


def check_network(name: str, objects: list[dict], templates) -> None:
    policies = find(objects, "NetworkPolicy")
    problems = []

    deny = [p for p in policies if set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    for where, meta, _ in templates:
        if not any(selects(p["spec"]["podSelector"], meta.get("labels", {})) for p in deny):
            problems.append(f"{where}: no default-deny policy selects it")
    problems_of(f"{name}: default-deny NetworkPolicy (ingress and egress) covers every simgate pod", problems)

    def kind_of_peer(rule_ports, peer):
        ports = {(p.get("protocol", "TCP"), p.get("port")) for p in rule_ports}
        if "namespaceSelector" in peer and peer.get("podSelector", {}).get("matchLabels", {}).get("k8s-app") == "kube-dns":
            return "dns" if ports <= {("UDP", 53), ("TCP", 53)} else None
        if "podSelector" in peer and "namespaceSelector" not in peer and ports == {("TCP", 5432)}:
            return "postgresql"
        if "ipBlock" in peer and ports == {("TCP", 5432)}:
            return "postgresql"
        if "ipBlock" in peer and ports == {("TCP", 443)}:
            return "webhooks"
        if "ipBlock" in peer and ports and all(p[0] == "TCP" and p[1] not in (443, 5432) for p in ports):
            return "sms-gateway"
        return None

    for where, meta, _ in templates:
        labels = meta.get("labels", {})
        is_api = labels.get("app.kubernetes.io/component") == "api"
        egress, ingress, bad = set(), set(), []
        for policy in policies:
            if not selects(policy["spec"]["podSelector"], labels):
                continue
            for rule in policy["spec"].get("egress", []):
                if not rule.get("to"):
                    bad.append(f"{policy['metadata']['name']}: egress to anywhere")
                for peer in rule.get("to", []):
                    kind = kind_of_peer(rule.get("ports", []), peer)
                    egress.add(kind) if kind else bad.append(f"{policy['metadata']['name']}: egress {peer}")
            for rule in policy["spec"].get("ingress", []):
                for peer in rule.get("from", [None]):
                    namespace = (peer or {}).get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                    ports = {p.get("port") for p in rule.get("ports", [])}
                    if namespace in ("ingress-nginx", "monitoring") and set(peer) == {"namespaceSelector"} and ports == {API_PORT}:
                        ingress.add(namespace)
                    else:
                        bad.append(f"{policy['metadata']['name']}: ingress from {peer} ports {ports}")
        want_egress = {"dns", "postgresql"} | ({"sms-gateway", "webhooks"} if is_api else set())
        want_ingress = {"ingress-nginx", "monitoring"} if is_api else set()
        if bad or egress != want_egress or ingress != want_ingress:
            problems.append(f"{where}: egress {sorted(egress)} ingress {sorted(ingress)} {bad}")
    problems_of(f"{name}: API ingress only from the ingress controller and monitoring; egress only DNS, "
                "PostgreSQL, SMS gateway, webhooks (Jobs: DNS and PostgreSQL)", problems)


# ------------------------------------------------------------------------------------------
# 4. monitoring and image
# ------------------------------------------------------------------------------------------

def exported_metrics() -> set[str]:
    source = (ROOT / "services" / "api" / "src" / "metrics.rs").read_text()
    names = set()
    for kind, metric in re.findall(r'(Opts|HistogramOpts|IntGauge)::new\(\s*"([a-z_]+)"', source):
        names.add(f"simgate_{metric}")
        if kind == "HistogramOpts":
            names |= {f"simgate_{metric}_{suffix}" for suffix in ("bucket", "sum", "count")}
    return names


def check_monitoring(objects: list[dict], production: list[dict]) -> None:
    exported = exported_metrics()
    check("monitoring: metric names read from services/api/src/metrics.rs",
          {"simgate_inference_in_flight", "simgate_inference_queued", "simgate_http_requests_total"} <= exported,
          str(sorted(exported)))

    monitor = find(objects, "ServiceMonitor", "simgate-api")
    service = find(production, "Service", "simgate-api")
    check("monitoring: ServiceMonitor selects the API Service and its http port",
          monitor is not None and service is not None
          and selects(monitor["spec"]["selector"], service["metadata"]["labels"])
          and all(e["port"] in {p["name"] for p in service["spec"]["ports"]} and e.get("path") == "/metrics"
                  for e in monitor["spec"]["endpoints"]))

    rule_object = find(objects, "PrometheusRule", "simgate")
    groups = {g["name"]: g["rules"] for g in (rule_object or {}).get("spec", {}).get("groups", [])}
    problems, used = [], set()
    for group, rules in groups.items():
        for rule in rules:
            alert = rule.get("alert", "?")
            if set(rule) - {"alert", "expr", "for", "labels", "annotations"}:
                problems.append(f"{alert}: unknown fields {sorted(set(rule) - {'alert', 'expr', 'for', 'labels', 'annotations'})}")
            if rule.get("labels", {}).get("severity") not in ("warning", "critical") or not rule.get("annotations", {}).get("summary"):
                problems.append(f"{alert}: severity or summary missing")
            if "for" in rule and not re.fullmatch(r"\d+[smh]", rule["for"]):
                problems.append(f"{alert}: bad duration {rule['for']}")
            expr = rule.get("expr", "")
            if expr.count("(") != expr.count(")"):
                problems.append(f"{alert}: unbalanced parentheses")
            for metric in re.findall(r"\bsimgate_[a-z_]+", expr):
                used.add(metric)
                if metric not in exported:
                    problems.append(f"{alert}: simgate does not export {metric}")
    saturation = " ".join(r["expr"] for r in groups.get("simgate.saturation", []))
    if "simgate_inference_queued" not in saturation or 'status="503"' not in saturation:
        problems.append("saturation rules must cover the full queue and the 503 rate")
    if not groups.get("simgate.risk"):
        problems.append("no risk rules")
    problems_of(f"monitoring: {sum(len(r) for r in groups.values())} alert rules well-formed, on exported metrics only "
                "(saturation: queue full, 503 rate; risk)", problems)


def check_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", dockerfile, re.M)
    final = dockerfile[dockerfile.rfind("\nFROM "):]
    check("image: Dockerfile is multi-stage (models, builder, slim runtime), non-root 10001, checksum entrypoint",
          len(stages) >= 3 and "USER 10001:10001" in final and "simgate-entrypoint" in final
          and "sha256sum --check" in final and "--locked" in dockerfile and "stage-models" in dockerfile
          and "bookworm-slim" in dockerfile, str(stages))

    dockerignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    check("image: .dockerignore admits only sources, model pins and k8s/image",
          dockerignore[0] == "*" and not any(e in dockerignore for e in ("!.venv", "!target", "!var", "!models/dist")))

    dist = ROOT / "models" / "dist"
    if not all((dist / f).is_file() for f in ("yunet.onnx", "sface.onnx", "libonnxruntime.so.1.31.0")):
        check("image: models staged and verified", False, "models/dist incomplete: run scripts/setup.sh")
        return
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "opt"
        run = subprocess.run(["sh", str(K8S / "image" / "stage-models.sh"), str(ROOT), str(stage), str(stage)],
                             capture_output=True, text=True)
        if not check("image: stage-models.sh stages the models against models/checksums.sha256",
                     run.returncode == 0 and len((stage / "SHA256SUMS").read_text().splitlines()) == 3,
                     run.stderr.strip()):
            return
        env = dict(os.environ, SIMGATE_MODEL_SUMS=str(stage / "SHA256SUMS"), SIMGATE_BIN="/bin/echo")
        entrypoint = ["sh", str(K8S / "image" / "entrypoint.sh"), "serve"]
        good = subprocess.run(entrypoint, env=env, capture_output=True, text=True)
        target = stage / "models" / "dist" / "yunet.onnx"
        target.chmod(0o644)
        with target.open("r+b") as f:  # flip one byte in place
            byte = f.read(1)
            f.seek(0)
            f.write(bytes([byte[0] ^ 0xFF]))
        bad = subprocess.run(entrypoint, env=env, capture_output=True, text=True)
        check("image: entrypoint starts simgate on intact models and refuses (exit 70) a tampered one",
              good.returncode == 0 and good.stdout.strip() == "serve" and bad.returncode == 70 and bad.stdout == "",
              f"intact: {good.returncode} {good.stderr.strip()}; tampered: {bad.returncode}")


def main() -> int:
    rendered = check_rendering()
    for name in ("dev", "production"):
        if name in rendered:
            check_schemas(name, rendered[name])
            check_overlay(name, rendered[name])
    if "monitoring" in rendered and "production" in rendered:
        check_monitoring(rendered["monitoring"], rendered["production"])
    check_image()
    failed = sum(1 for ok, _, _ in results if not ok)
    print(f"k8s manifests: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
