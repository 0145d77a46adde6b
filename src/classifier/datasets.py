"""Labelled data for training and evaluation: the demo corpus, labelled tables, and real negatives.

Every loader returns documents (the extraction contract: ``id``, ``url``, ``title``, ``text`` …) with
the label columns below, so the model sees the same input in training as in scoring.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from classifier.config import EXTRACT_CACHE, SHARED_REAL_DATA, Settings
from classifier.corpus.generator import ensure_corpus
from classifier.extract import extract_document, extract_documents
from classifier.ingest import iter_records, record_from_row


def demo_dataset(
    demo_dir: Path, settings: Settings, use_cache: bool = True, say: Callable[[str], None] = print
) -> pd.DataFrame:
    """The demo corpus as labelled documents, without mirror copies. Generated first when ``demo_dir``
    has none, and again when other settings or generator files made it (``ensure_corpus``)."""
    done = ensure_corpus(demo_dir, settings.corpus)
    if done:
        say(done)
    warc, labels_path = demo_dir / "pages.warc.gz", demo_dir / "labels.csv"
    records = iter_records([warc], settings.ingest)
    docs = pd.DataFrame(
        extract_documents(
            records, settings.extract, EXTRACT_CACHE if use_cache and settings.extract.cache else None
        )
    )
    labels = pd.read_csv(labels_path, dtype={"id": str}, keep_default_na=False)
    labels = labels.rename(columns={"lang": "lang_written", "title": "title_written"})
    frame = docs.merge(labels.drop(columns=["url"]), on="id", how="inner", validate="one_to_one")
    frame["source"] = "demo"
    frame["hard_negative"] = frame["hard_negative"].astype(str).str.lower() == "true"
    # mirrors are copies of another page: learning or measuring on copies would overweight their shops
    copies = frame["mirror_of"].astype(str).ne("") if "mirror_of" in frame else False
    return frame[(frame["status"] == "ok") & ~copies].reset_index(drop=True)


def labelled_table(path: Path, settings: Settings) -> pd.DataFrame:
    """A JSONL / CSV / Parquet table with ``text`` or ``html`` and ``label`` (expert exports, too)."""
    table = _read_table(path)
    if "label" not in table.columns:
        raise ValueError(f"{path}: a labelled table needs a 'label' column")
    if "text" not in table.columns and "html" not in table.columns:
        raise ValueError(f"{path}: a labelled table needs a 'text' or 'html' column")
    rows = []
    for number, row in enumerate(table.to_dict("records"), start=1):
        record = record_from_row(row, f"{path}:{number}", settings.ingest)
        doc = extract_document(record, settings.extract)
        if doc["status"] != "ok":
            continue
        doc["label"] = int(row["label"])
        for column in ("category", "family", "layout", "kind", "source"):
            value = row.get(column)
            doc[column] = "" if value is None or value != value else str(value)
        doc["family"] = doc["family"] or f"{path.stem}:{doc['domain'] or doc['id']}"
        doc["source"] = doc["source"] or path.stem
        for column in ("title", "description"):  # text rows have none of their own: keep the table's
            value = row.get(column)
            if not doc.get(column) and isinstance(value, str):
                doc[column] = value
        doc["hard_negative"] = _flag(row.get("hard_negative", False))
        doc["obfuscations"] = ""
        rows.append(doc)
    if not rows:
        raise ValueError(f"{path}: no usable labelled rows")
    return pd.DataFrame(rows)


def _flag(value: object) -> bool:
    """A boolean cell: JSON/Parquet booleans, or CSV text ("True", "false", "1", "")."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) and value == value  # NaN is not a flag


def _read_table(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return pd.read_json(path, lines=True, dtype=False)
    if name.endswith(".csv"):
        return pd.read_csv(path, dtype=str, keep_default_na=False).assign(
            label=lambda t: pd.to_numeric(t["label"]) if "label" in t else None
        )
    if name.endswith(".parquet"):
        return pd.read_parquet(path)
    raise ValueError(f"{path}: labelled data must be .jsonl, .csv or .parquet")


def real_negatives(
    split: str, max_rows: int | None = None, seed: int = 0, folder: Path = SHARED_REAL_DATA
) -> pd.DataFrame | None:
    """Real Russian and Kazakh texts (all negatives) of one split, or None when they are absent."""
    files = sorted(folder.glob("*.jsonl.gz")) if folder.is_dir() else []
    if not files:
        return None
    rows = []
    for file in files:
        with gzip.open(file, "rt", encoding="utf-8") as handle:
            rows.extend(r for r in map(json.loads, handle) if r.get("split") == split and r.get("text"))
    frame = pd.DataFrame(rows)
    if max_rows and len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    bucket = frame["id"].map(lambda i: int(hashlib.sha1(i.encode()).hexdigest()[:6], 16) % 20)
    return pd.DataFrame(
        {
            "id": frame["id"].to_numpy(),
            "url": "",
            "domain": "",
            "title": "",
            "description": "",
            "text": frame["text"].to_numpy(),
            "lang": frame["lang"].to_numpy(),
            "label": 0,
            "category": "none",
            # groups for cross-validation: a source split into buckets, so no fold is one source
            "family": ("real:" + frame["source"].astype(str) + ":" + bucket.astype(str)).to_numpy(),
            "layout": "real",
            "kind": "real_" + frame["drug_topic"].map({True: "drug_topic", False: "other"}).to_numpy(),
            "hard_negative": frame["drug_topic"].astype(bool).to_numpy(),
            "obfuscations": "",
            "source": frame["source"].to_numpy(),
            "drug_topic": frame["drug_topic"].astype(bool).to_numpy(),
        }
    ).reset_index(drop=True)
