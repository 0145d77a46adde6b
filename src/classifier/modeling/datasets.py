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

from classifier.common.config import EXTRACT_CACHE, SHARED_REAL_DATA, Settings
from classifier.corpus.build import ensure_corpus
from classifier.extract.documents import extract_document
from classifier.extract.run import extract_documents, reuse_documents
from classifier.ingest.sources import iter_records
from classifier.ingest.tables import record_from_row, table_rows


def demo_dataset(
    demo_dir: Path, settings: Settings, use_cache: bool = True, say: Callable[[str], None] = print
) -> pd.DataFrame:
    """The demo corpus as labelled documents, without mirror copies. Generated first when ``demo_dir``
    has none, and again when other settings or generator files made it (``ensure_corpus``)."""
    done = ensure_corpus(demo_dir, settings.corpus)
    if done:
        say(done)
    warc, labels_path = demo_dir / "pages.warc.gz", demo_dir / "labels.csv"
    # the documents `classifier demo` extracted from this very corpus, if it did
    docs = reuse_documents(demo_dir / "documents.parquet", [str(warc)], settings.extract)
    if docs is not None:
        say(f"reading the documents extracted from this corpus: {demo_dir / 'documents.parquet'}")
    else:
        records = iter_records([warc], settings.ingest)
        cache = EXTRACT_CACHE if use_cache and settings.extract.cache else None
        docs = pd.DataFrame(extract_documents(records, settings.extract, cache))
    labels = pd.read_csv(labels_path, dtype={"id": str}, keep_default_na=False)
    labels = labels.rename(columns={"lang": "lang_written", "title": "title_written"})
    frame = docs.merge(labels.drop(columns=["url"]), on="id", how="inner", validate="one_to_one")
    frame["source"] = "demo"
    frame["hard_negative"] = frame["hard_negative"].astype(str).str.lower() == "true"
    # mirrors are copies of another page: learning or measuring on copies would overweight their shops
    copies = frame["mirror_of"].astype(str).ne("") if "mirror_of" in frame else False
    return frame[(frame["status"] == "ok") & ~copies].reset_index(drop=True)


def labelled_table(path: Path, settings: Settings) -> pd.DataFrame:
    """A JSONL / CSV / Parquet table with ``text`` or ``html`` and ``label`` (expert exports, too), read
    by ingestion's table readers; a row that cannot be read is an error naming it."""
    rows = []
    for item in table_rows(path):
        if item.row is None:
            raise ValueError(f"{item.source}: {item.error}")
        if "label" not in item.row:
            raise ValueError(f"{path}: a labelled table needs a 'label' column")
        if "text" not in item.row and "html" not in item.row:
            raise ValueError(f"{path}: a labelled table needs a 'text' or 'html' column")
        doc = _labelled_document(item.row, item.source, path, settings)
        if doc is not None:
            rows.append(doc)
    if not rows:
        raise ValueError(f"{path}: no usable labelled rows")
    return pd.DataFrame(rows)


def _labelled_document(row: dict, source: str, path: Path, settings: Settings) -> dict | None:
    """One labelled row as a document with its label columns; None when it has no text to learn from."""
    doc = extract_document(record_from_row(row, source, settings.ingest), settings.extract)
    if doc["status"] != "ok":
        return None
    doc["label"] = int(float(row["label"]))  # CSV cells are text ("1", "1.0")
    for column in ("category", "family", "layout", "kind", "source"):
        value = row.get(column)
        doc[column] = "" if value is None or value != value else str(value)
    doc["family"] = doc["family"] or f"{path.stem}:{doc['domain'] or doc['id']}"
    doc["source"] = doc["source"] or path.stem
    # text rows have none of their own: keep the table's (expert exports carry the images' text)
    for column in ("title", "description", "image_text"):
        value = row.get(column)
        if not doc.get(column) and isinstance(value, str):
            doc[column] = value
    doc["hard_negative"] = _flag(row.get("hard_negative", False))
    doc["obfuscations"] = ""
    return doc


def _flag(value: object) -> bool:
    """A boolean cell: JSON/Parquet booleans, or CSV text ("True", "false", "1", "")."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) and value == value  # NaN is not a flag


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
