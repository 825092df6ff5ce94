"""Reference MRZ reader: PassportEye (`passporteye.read_mrz(path)`, Tesseract underneath).

Reads every *.jpg and *.png in the document folder (default ../shared/data/mrz-dev, the MRZ
specimens listed in its README.md: TD3 passports, a TD2 document, TD1 identity cards) --repeats
times, in sorted file order, and reports:
- time per document read: median and p99 over all reads (each includes loading the file and the
  tesseract process PassportEye starts);
- read rate: the fraction of documents whose MRZ PassportEye read with every check digit valid
  (`mrz.valid_check_digits` all true). `mrz_valid` in per_document is PassportEye's stricter
  `mrz.valid`, which also requires the expected line lengths and its own extra checks;
- per document: the median time of its reads, validity, MRZ type (TD1/TD2/TD3/MRVA/MRVB, or null
  when no MRZ was found), PassportEye's valid_score (0..100) and the raw Tesseract text of the
  MRZ region it parsed (mrz_text).

Run with the project's venv (bench/setup_bench.sh installs PassportEye and tesseract):
    .venv/bin/python bench/reference_documents.py --json bench/results/passporteye.json
"""

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

import passporteye
import pytesseract

import benchlib

DEFAULT_DOCUMENTS = benchlib.ROOT.parent / "shared" / "data" / "mrz-dev"


def read_document(path: Path) -> tuple[float, dict]:
    """Reads one document; returns (seconds, its per_document entry without the time)."""
    start = time.perf_counter()
    mrz = passporteye.read_mrz(str(path))
    elapsed = time.perf_counter() - start
    if mrz is None or mrz.mrz_type is None:
        return elapsed, {"valid": False, "mrz_valid": False, "mrz_type": None, "valid_score": 0, "mrz_text": None}
    return elapsed, {
        "valid": all(mrz.valid_check_digits),
        "mrz_valid": bool(mrz.valid),
        "mrz_type": mrz.mrz_type,
        "valid_score": mrz.valid_score,
        "mrz_text": mrz.aux.get("raw_text"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--documents",
        type=Path,
        default=DEFAULT_DOCUMENTS,
        help=f"folder with the document images (default {DEFAULT_DOCUMENTS})",
    )
    parser.add_argument("--repeats", type=int, default=1, help="reads of each document (default 1)")
    parser.add_argument("--json", metavar="FILE", help="write the result here instead of stdout")
    args = parser.parse_args()

    files = sorted(p for p in args.documents.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    if not files:
        parser.error(f"no .jpg or .png files in {args.documents}")
    settings = benchlib.machine_settings()

    all_reads, per_document = [], []
    # scikit-image and PassportEye warn about deprecated calls on every read; they change nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            reads = [read_document(path) for _ in range(args.repeats)]
            all_reads += [seconds for seconds, _ in reads]
            entry = {"file": path.name, "ms": round(statistics.median(s for s, _ in reads) * 1000, 3)}
            per_document.append(entry | reads[-1][1])

    settings.update(
        passporteye=passporteye.__version__,
        tesseract=str(pytesseract.get_tesseract_version()),
        omp_thread_limit=os.environ.get("OMP_THREAD_LIMIT", "unset (tesseract uses every core)"),
        repeats=args.repeats,
        documents_folder=str(args.documents),
        valid="every check digit valid (mrz.valid_check_digits)",
        percentile="linear interpolation between closest ranks",
    )
    result = {
        "name": "passporteye",
        "documents": len(files),
        **benchlib.summary_ms(all_reads),
        "read_rate": round(sum(d["valid"] for d in per_document) / len(files), 4),
        "per_document": per_document,
        "settings": settings,
    }
    benchlib.write_result(result, args.json)


if __name__ == "__main__":
    main()
