#!/usr/bin/env python3
"""A small kustomize stand-in: renders simgate's kustomizations without the kustomize binary.

    .venv/bin/python k8s/render.py            # print what differs from k8s/rendered/*.yaml
    .venv/bin/python k8s/render.py --write    # (re)write k8s/rendered/{dev,production,monitoring}.yaml
    .venv/bin/python k8s/render.py k8s/overlays/dev   # one kustomization to standard output

Why: no kustomize or kubectl is installable from the package registries this project's machines
reach, and `make test` must render every overlay. The kustomization.yaml files stay standard, so
operators use the real thing (`kubectl kustomize k8s/overlays/production`); where `kubectl` is on
the PATH, k8s/tests/check_manifests.py renders with both and requires identical objects.

Only the kustomize features simgate's kustomizations use are implemented, each as kustomize v5
does it; anything else is refused with an error rather than silently ignored:
  - resources: files (multi-document YAML) and directories (nested kustomizations)
  - namespace: set on every namespaced object
  - configMapGenerator: `files` and `literals`, with kustomize's content-hash name suffix
    (sha256 of the Go-JSON {"data","kind","name":""}, first 10 hex digits with 0,1,3,a,e mapped
    to g,h,k,m,t), and references to the generated name rewritten in pod specs
  - images: name -> newName / newTag / digest on containers and init containers
  - patches: strategic-merge patches (`path:` or inline `patch:`) found by kind and name, with
    the merge keys of the fields used here and the `$patch: delete|replace` directives
  - output order: kustomize's legacy kind order, then kind, then name
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import sys
from pathlib import Path

import yaml

K8S = Path(__file__).resolve().parent
RENDERED = K8S / "rendered"
# what `make test` renders and checks, and where the committed output lives
TARGETS = {
    "dev": K8S / "overlays" / "dev",
    "production": K8S / "overlays" / "production",
    "monitoring": K8S / "monitoring",
}

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "configMapGenerator", "images", "patches"}
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
}
# kustomize's legacy sort order (api/resid/gvk.go); unlisted kinds go between, by kind and name
ORDER_FIRST = [
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
    "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
    "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
    "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
]
ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
# strategic-merge keys of the lists simgate patches (k8s.io/api patchMergeKey / listMapKey);
# every other list is replaced by the patch's, as in kustomize
MERGE_KEYS = {
    "containers": ("name",),
    "initContainers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "imagePullSecrets": ("name",),
    "volumeMounts": ("mountPath",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
}


class RenderError(Exception):
    pass


def load_yaml_docs(path: Path) -> list[dict]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def go_json(value) -> str:
    """JSON as Go's encoding/json writes it: sorted keys, no spaces, <, > and & escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def config_map_hash(data: dict) -> str:
    digest = hashlib.sha256(go_json({"data": data, "kind": "ConfigMap", "name": ""}).encode()).hexdigest()
    return "".join({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}.get(c, c) for c in digest[:10])


def pod_specs(obj: dict) -> list[dict]:
    spec = obj.get("spec", {})
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if kind == "Pod":
        return [spec]
    return []


def rename_config_maps(obj: dict, names: dict[str, str]) -> None:
    """Points pod-spec references to generated ConfigMaps at their hashed names."""
    for spec in pod_specs(obj):
        for volume in spec.get("volumes", []):
            if "configMap" in volume and volume["configMap"].get("name") in names:
                volume["configMap"]["name"] = names[volume["configMap"]["name"]]
            for source in volume.get("projected", {}).get("sources", []):
                if "configMap" in source and source["configMap"].get("name") in names:
                    source["configMap"]["name"] = names[source["configMap"]["name"]]
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            for env_from in container.get("envFrom", []):
                ref = env_from.get("configMapRef")
                if ref and ref.get("name") in names:
                    ref["name"] = names[ref["name"]]
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("configMapKeyRef")
                if ref and ref.get("name") in names:
                    ref["name"] = names[ref["name"]]


def set_images(obj: dict, images: list[dict]) -> None:
    for spec in pod_specs(obj):
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            image = container.get("image", "")
            name = image.split("@", 1)[0]
            if ":" in name.rsplit("/", 1)[-1]:
                name = name.rsplit(":", 1)[0]
            for rule in images:
                if rule["name"] != name:
                    continue
                unknown = set(rule) - {"name", "newName", "newTag", "digest"}
                if unknown:
                    raise RenderError(f"images: unsupported fields {sorted(unknown)}")
                new = rule.get("newName", name)
                if "digest" in rule:
                    container["image"] = f"{new}@{rule['digest']}"
                elif "newTag" in rule:
                    container["image"] = f"{new}:{rule['newTag']}"
                else:
                    container["image"] = new + image[len(name):]


def strategic_merge(original, patch, field: str | None = None):
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        if patch.get("$patch") not in (None, "merge"):
            raise RenderError(f"unsupported directive $patch: {patch['$patch']} on {field}")
        if not isinstance(original, dict):
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch" and v is not None}
        result = copy.deepcopy(original)
        for key, value in patch.items():
            if key == "$patch":
                continue
            if value is None:
                result.pop(key, None)
            elif key in result:
                result[key] = strategic_merge(result[key], value, key)
            else:
                result[key] = strategic_merge(None, value, key)
        return result
    if isinstance(patch, list) and field in MERGE_KEYS and isinstance(original, list):
        keys = MERGE_KEYS[field]

        def key_of(item):
            return tuple(item.get(k) for k in keys)

        remaining = list(original)
        merged = []
        for item in patch:
            match = next((o for o in remaining if key_of(o) == key_of(item)), None)
            if match is not None:
                remaining.remove(match)
            if item.get("$patch") == "delete":
                continue
            merged.append(strategic_merge(match, item, None))
        # as kustomize (apimachinery's mergeSlice) orders them: the patch's items, then the rest
        return merged + remaining
    if isinstance(patch, list):
        return [strategic_merge(None, item, None) if isinstance(item, dict) else item for item in patch]
    return patch


def object_id(obj: dict) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def apply_patch(objects: list[dict], patch: dict, source: str) -> None:
    target = next((o for o in objects if object_id(o) == object_id(patch)), None)
    if target is None:
        raise RenderError(f"{source}: no {patch['kind']} {patch['metadata']['name']} to patch")
    merged = strategic_merge(target, patch)
    target.clear()
    target.update(merged)


def build(directory: Path) -> tuple[list[dict], dict[str, str]]:
    """Returns the objects of a kustomization and the names of the ConfigMaps it generated."""
    directory = directory.resolve()
    kustomization_file = directory / "kustomization.yaml"
    if not kustomization_file.is_file():
        raise RenderError(f"{directory}: no kustomization.yaml")
    kustomization = yaml.safe_load(kustomization_file.read_text()) or {}
    unknown = set(kustomization) - SUPPORTED_KEYS
    if unknown:
        raise RenderError(f"{kustomization_file}: unsupported by k8s/render.py: {sorted(unknown)}")

    objects: list[dict] = []
    generated: dict[str, str] = {}
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            sub_objects, sub_generated = build(path)
            objects += sub_objects
            generated.update(sub_generated)
        elif path.is_file():
            objects += load_yaml_docs(path)
        else:
            raise RenderError(f"{kustomization_file}: resource {entry} not found")

    for generator in kustomization.get("configMapGenerator", []):
        unknown = set(generator) - {"name", "files", "literals"}
        if unknown:
            raise RenderError(f"{kustomization_file}: configMapGenerator fields {sorted(unknown)} unsupported")
        data: dict[str, str] = {}
        for spec in generator.get("files", []):
            key, _, file_name = spec.rpartition("=")
            file_path = directory / file_name
            data[key or file_path.name] = file_path.read_text()
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        name = f"{generator['name']}-{config_map_hash(data)}"
        generated[generator["name"]] = name
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})

    for entry in kustomization.get("patches", []):
        unknown = set(entry) - {"path", "patch"}
        if unknown:
            raise RenderError(f"{kustomization_file}: patch fields {sorted(unknown)} unsupported (e.g. target)")
        if "path" in entry:
            docs, source = load_yaml_docs(directory / entry["path"]), entry["path"]
        else:
            docs, source = [d for d in yaml.safe_load_all(entry["patch"]) if d], "inline patch"
        for patch in docs:
            apply_patch(objects, patch, f"{kustomization_file.parent.name}/{source}")

    for obj in objects:
        rename_config_maps(obj, generated)
        set_images(obj, kustomization.get("images", []))
        if "namespace" in kustomization and obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects, generated


def sort_key(obj: dict):
    kind = obj["kind"]
    if kind in ORDER_FIRST:
        rank = (0, ORDER_FIRST.index(kind), "")
    elif kind in ORDER_LAST:
        rank = (2, ORDER_LAST.index(kind), "")
    else:
        rank = (1, 0, kind)
    return rank, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(directory: Path) -> str:
    objects, _ = build(directory)
    objects.sort(key=sort_key)
    header = (
        f"# Rendered from k8s/{directory.resolve().relative_to(K8S)} by k8s/render.py; do not edit.\n"
        "# Regenerate: .venv/bin/python k8s/render.py --write (make test checks it is current).\n"
    )
    return header + yaml.dump_all(objects, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kustomization", nargs="?", help="render this directory to standard output")
    parser.add_argument("--write", action="store_true", help="rewrite k8s/rendered/*.yaml")
    args = parser.parse_args()
    try:
        if args.kustomization:
            sys.stdout.write(render(Path(args.kustomization)))
            return 0
        RENDERED.mkdir(exist_ok=True)
        stale = 0
        for name, directory in TARGETS.items():
            out = RENDERED / f"{name}.yaml"
            text = render(directory)
            old = out.read_text() if out.exists() else ""
            if old == text:
                print(f"{out.relative_to(K8S.parent)}: up to date")
            elif args.write:
                out.write_text(text)
                print(f"{out.relative_to(K8S.parent)}: written")
            else:
                stale += 1
                sys.stdout.writelines(difflib.unified_diff(
                    old.splitlines(True), text.splitlines(True), str(out), "fresh render", n=2))
        if stale:
            print(f"{stale} rendered file(s) out of date: run with --write", file=sys.stderr)
        return 1 if stale else 0
    except RenderError as error:
        print(f"render.py: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
