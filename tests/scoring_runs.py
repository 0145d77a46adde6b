"""Real `classifier score` runs for the tests that kill them: the command, its settings and inputs, and
what a run has committed so far."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import yaml

from classifier.common.config import DEFAULT_PARAMS, load_settings
from classifier.corpus.build import generate_corpus

VOLATILE = ("run_id", "scored_at")  # the only fields that differ between two separate runs


def write_params(folder: Path, chunk_size: int = 25) -> Path:
    """Project params with small chunks, one extraction process and no MLflow logging."""
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    raw["score"] |= {"chunk_size": chunk_size, "log_to_mlflow": False}
    raw["extract"] |= {"n_jobs": 1}
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def write_corpus(folder: Path, n: int, seed: int) -> Path:
    """A generated crawl of ``n`` pages; returns its WARC file."""
    generate_corpus(folder, load_settings().corpus, n=n, seed=seed)
    return folder / "pages.warc.gz"


def command(
    params: Path, warc: Path, model: Path, out: Path, checkpoints: Path, db: str | None = None
) -> list[str]:
    """The scoring command; the case store is an SQLite file next to ``out`` unless ``db`` names one."""
    executable = Path(sys.executable).with_name("classifier")
    db = db or f"sqlite:///{out.with_suffix('.db')}"
    return [
        str(executable),
        "--params",
        str(params),
        "score",
        str(warc),
        "--model",
        str(model),
        "--out",
        str(out),
        "--db",
        db,
        "--checkpoints",
        str(checkpoints),
        "--no-cache",
    ]


def committed(checkpoints: Path) -> int:
    """Rows committed so far by the running scorer (0 until its checkpoint exists)."""
    for path in checkpoints.glob("*.sqlite"):
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
                return int(db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
        except sqlite3.OperationalError:  # schema not created yet
            return 0
    return 0


def rows(path: Path) -> list[dict]:
    """The rows of a JSONL queue file without the fields that differ between runs."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in VOLATILE} for line in lines]
