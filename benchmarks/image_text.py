"""Text in images (issue 20): does a violation posted as a picture score as the same text written on the
page, and what does reading pictures cost?

1. **Recall, pictures against text.** The model is fitted as ``classifier train``'s evaluation fit is:
   on the demo corpus without its held-out families. A fresh draw of demo pages (another seed) is
   written twice, identical but for one thing: every page's text blocks only in pictures
   (``corpus.image_share: 1``), or all as text (``0``). Both are ingested, extracted (with OCR) and
   scored; recall at the model's threshold is measured on the held-out families' violations, and the
   false-alarm rate on their legitimate pages. A page that comes out as an error counts as missed.
2. **Cost.** A crawl where 10% of the pages carry their text in a picture (``image_share: 0.1``) is
   extracted on one core with OCR on and off, without caches: images read per second, and the share of
   the extraction time OCR adds. Then the same crawl again in the same process: pictures read before
   come from the cache by their hash.

Writes benchmarks/results/image_text.json. Target (issue 20): recall on the picture pages within 0.05
of the same pages as text.

    python benchmarks/image_text.py [--pages 2000] [--crawl-pages 1000] [--seed 2027]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from classifier.common.config import DEMO_DIR, Settings, load_settings
from classifier.corpus.build import ensure_corpus, generate_corpus
from classifier.extract.image_text import image_reader, ocr_enabled
from classifier.extract.run import extract_documents, image_outcome
from classifier.ingest.sources import iter_records
from classifier.modeling.model import predict
from classifier.modeling.train import fit_model
from classifier.modeling.training_data import held_out, load_training_data
from results_file import write_results

MAX_RECALL_GAP = 0.05


def extracted(folder: Path, settings: Settings) -> pd.DataFrame:
    """Every page of a generated corpus with its labels: extraction errors kept (they count as missed)."""
    records = iter_records([str(folder / "pages.warc.gz")], settings.ingest)
    docs = pd.DataFrame(extract_documents(records, settings.extract, None))
    labels = pd.read_csv(folder / "labels.csv", dtype={"id": str}, keep_default_na=False)
    frame = docs.merge(
        labels[["id", "label", "family", "lang", "mirror_of", "in_image"]], on="id", suffixes=("", "_written")
    )
    return frame[frame["mirror_of"].eq("")].reset_index(drop=True)  # originals: a mirror repeats one


def flagged(frame: pd.DataFrame, model: Any) -> np.ndarray:
    """Whether the model flags each page; an error page is not flagged (missed)."""
    out = np.zeros(len(frame), dtype=bool)
    ok = frame["status"].eq("ok").to_numpy()
    if ok.any():
        out[ok] = predict(model, frame[ok].reset_index(drop=True)).label.astype(bool)
    return out


def rates(frame: pd.DataFrame, flags: np.ndarray) -> dict[str, Any]:
    positive = frame["label"].astype(int).eq(1).to_numpy()
    by_lang = {
        lang: round(float(flags[positive & frame["lang_written"].eq(lang).to_numpy()].mean()), 4)
        for lang in sorted(frame["lang_written"].unique())
    }
    return {
        "violations": int(positive.sum()),
        "legitimate": int((~positive).sum()),
        "recall_at_threshold": round(float(flags[positive].mean()), 4),
        "recall_by_language": by_lang,
        "false_alarm_rate": round(float(flags[~positive].mean()), 4),
        "error_pages": int(frame["status"].ne("ok").sum()),
    }


def recall_pictures_against_text(settings: Settings, pages: int, seed: int, work: Path) -> dict[str, Any]:
    ensure_corpus(DEMO_DIR, settings.corpus)
    data = load_training_data(settings, None, print)
    model = fit_model(data.train, settings)
    threshold = float(model[-1].threshold_)
    result: dict[str, Any] = {"threshold": round(threshold, 4), "pages_drawn": pages, "seed": seed}
    for variant, share in (("pictures", 1.0), ("text", 0.0)):
        folder = work / variant
        generate_corpus(folder, replace(settings.corpus, image_share=share), n=pages, seed=seed)
        frame = extracted(folder, settings)
        held = frame["family"].map(
            lambda f: held_out(str(f), settings.train.holdout_share, settings.train.seed)
        )
        frame = frame[held].reset_index(drop=True)
        if variant == "pictures":
            result["pictures_per_page"] = round(float(frame["images"].map(len).mean()), 2)
            result["pages_without_any_text_read"] = int(frame["image_text"].fillna("").eq("").sum())
        result[variant] = rates(frame, flagged(frame, model))
    gap = result["text"]["recall_at_threshold"] - result["pictures"]["recall_at_threshold"]
    result["recall_gap"] = round(gap, 4)
    result["target_met"] = bool(gap <= MAX_RECALL_GAP)
    return result


def timed_extraction(folder: Path, settings: Settings) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    docs = list(
        extract_documents(iter_records([str(folder / "pages.warc.gz")], settings.ingest), settings.extract)
    )
    return time.perf_counter() - started, docs


def cost(settings: Settings, pages: int, seed: int, work: Path) -> dict[str, Any]:
    folder = work / "crawl"
    generate_corpus(folder, replace(settings.corpus, image_share=0.1), n=pages, seed=seed + 1)
    one_core = replace(settings.extract, n_jobs=1)
    off = replace(settings, extract=replace(one_core, ocr=False))
    on = replace(settings, extract=one_core)
    image_reader(on.extract)  # Tesseract's models load once per process: not a per-image cost
    seconds_off, _ = timed_extraction(folder, off)
    seconds_on, docs = timed_extraction(folder, on)
    seconds_cached, _ = timed_extraction(folder, on)  # the same pictures: the reader's cache by hash
    outcomes = pd.Series([image_outcome(image) for doc in docs for image in doc["images"]]).value_counts()
    read = int(outcomes.get("text read", 0) + outcomes.get("no text", 0))
    ocr_seconds = seconds_on - seconds_off
    return {
        "pages": len(docs),
        "pages_with_an_image_read": sum(1 for doc in docs if any(not i["error"] for i in doc["images"])),
        "images": {str(k): int(v) for k, v in outcomes.items()},
        "seconds_ocr_off": round(seconds_off, 2),
        "seconds_ocr_on": round(seconds_on, 2),
        "seconds_ocr_on_cached": round(seconds_cached, 2),
        "share_of_time_ocr_adds": round(ocr_seconds / seconds_on, 4),
        "images_per_second": round(read / ocr_seconds, 2) if ocr_seconds > 0 else None,
        "seconds_per_image": round(ocr_seconds / read, 3) if read else None,
        # a run whose pictures were all read before costs what a run without OCR does (within noise)
        "cached_run_vs_ocr_off": round(seconds_cached / seconds_off, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="pages drawn for the recall comparison")
    parser.add_argument("--crawl-pages", type=int, default=1000, help="pages of the crawl timed")
    parser.add_argument("--seed", type=int, default=2027, help="a seed the demo corpus does not use")
    args = parser.parse_args()
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    settings = load_settings()
    if not ocr_enabled(settings.extract):
        raise SystemExit("OCR is off here (see the log): install Tesseract's data to measure it")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {
            "recall": recall_pictures_against_text(settings, args.pages, args.seed, work),
            "cost": cost(settings, args.crawl_pages, args.seed, work),
        }
    write_results("image_text", result)


if __name__ == "__main__":
    main()
