"""The whole pipeline on the bundled demo data (``classifier demo``): a corpus, its extraction,
training with the champion gate, and a new batch of reports scored into the queue and the case store.

Training reads the documents this run extracted (``documents.parquet``) instead of extracting the
corpus a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.common.config import DATA_DIR, EXTRACT_CACHE, Settings
from classifier.corpus.build import generate_corpus
from classifier.extract.run import extract_to_file
from classifier.modeling.train import TrainResult, train
from classifier.queue import CaseStore
from classifier.score.engine import Progress, ScoreSummary, score_inputs

Say = Callable[[str], None]
QUEUE_FILE = DATA_DIR / "processed" / "queue.csv"


class DemoError(RuntimeError):
    """The demo's own check failed: pages were lost between the corpus and its extraction."""


@dataclass
class DemoResult:
    corpus: dict[str, Any]
    extraction: dict[str, Any]
    training: TrainResult | None = None
    scoring: ScoreSummary | None = None
    incoming: Path | None = None
    queue_file: Path = QUEUE_FILE


def run_demo(
    settings: Settings,
    out_dir: Path,
    *,
    n: int | None,
    params_path: Path,
    use_cache: bool = True,
    train_model: bool = True,
    say: Say = print,
    show: Callable[[dict[str, Any]], None] = lambda _: None,
    trained: Callable[[TrainResult], None] = lambda _: None,
    progress: Callable[[Iterator[dict[str, Any]]], Iterator[dict[str, Any]]] | None = None,
    score_progress: Progress | None = None,
) -> DemoResult:
    """Run the stages in order, saying each step; ``show`` prints a step's counts."""
    steps = 4 if train_model else 2
    cache = EXTRACT_CACHE if use_cache and settings.extract.cache else None
    say(f"1/{steps} generating the demo corpus in {out_dir} ...")
    corpus = generate_corpus(out_dir, settings.corpus, n=n)
    show(corpus)
    say(f"2/{steps} ingesting and extracting pages.warc.gz ...")
    documents = out_dir / "documents.parquet"
    extraction = extract_to_file([str(out_dir / "pages.warc.gz")], documents, settings, cache, progress)
    show(extraction)
    if extraction["records"] != corpus["pages"]:
        raise DemoError(f"{corpus['pages']} pages written but {extraction['records']} records read")
    say(f"extracted {extraction['status'].get('ok', 0)} of {extraction['records']} pages into {documents}")
    result = DemoResult(corpus, extraction)
    if not train_model:
        return result
    say(f"3/{steps} training on held-out families, logging to MLflow ...")
    result.training = train(settings, demo_dir=out_dir, params_path=params_path)
    trained(result.training)
    # new reports, not the training pages: another draw from the generator
    result.incoming = out_dir / "incoming"
    say(f"4/{steps} scoring {result.incoming}/pages.warc.gz (a new batch of reports) with the champion ...")
    n_incoming = max(50, (n or settings.corpus.n_pages) // 4)
    generate_corpus(result.incoming, settings.corpus, n=n_incoming, seed=settings.corpus.seed + 1)
    with CaseStore(settings.score.db or None, score_settings=settings.score) as store:
        result.scoring = score_inputs(
            [str(result.incoming / "pages.warc.gz")],
            QUEUE_FILE,
            settings,
            store,
            use_cache=use_cache,
            progress=score_progress,
        )
    return result
