"""The demo corpus at a glance: counts, examples, text lengths, real negatives and a sanity check.

Plain functions returning pandas tables or dicts, for ``notebooks/01_corpus.ipynb`` and anyone
inspecting a corpus written by ``classifier demo-data`` (``labels.csv`` plus ``pages.warc.gz``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd

from classifier.common.config import SHARED_REAL_DATA, Settings
from classifier.corpus.build import ensure_corpus as ensure_generated
from classifier.corpus.written import is_written
from classifier.modeling.datasets import demo_dataset, real_negatives

REAL_NEGATIVE_MODES = ("auto", "always", "never")
_FLAGS = ("hard_negative", "malformed")


def ensure_corpus(corpus_dir: Path, settings: Settings, n: int, seed: int | None = None) -> dict[str, Any]:
    """Generate ``n`` pages into ``corpus_dir`` unless the corpus there has this size, seed, settings and
    generator files; return its ``summary.json``. The size is recorded as asked for, so that training
    (``datasets.demo_dataset``) reuses the corpus instead of regenerating it at params' size."""
    corpus_dir = Path(corpus_dir)
    ensure_generated(corpus_dir, settings.corpus, n, settings.corpus.seed if seed is None else seed)
    return json.loads((corpus_dir / "summary.json").read_text(encoding="utf-8"))


def load_labels(corpus_dir: Path) -> pd.DataFrame:
    """``labels.csv`` with typed columns: ``label`` int, flags bool, empty strings for missing text."""
    labels = pd.read_csv(Path(corpus_dir) / "labels.csv", dtype=str, keep_default_na=False)
    labels["label"] = labels["label"].astype(int)
    for column in _FLAGS:
        if column in labels:
            labels[column] = labels[column].str.lower().eq("true")
    return labels


def documents(corpus_dir: Path, settings: Settings, fast: bool = False) -> pd.DataFrame:
    """The corpus's extracted documents with their labels, mirrors dropped (``datasets.demo_dataset``).

    ``fast``: one process and no extraction cache, quicker for a few hundred pages (tests).
    """
    if fast:
        settings = dataclasses.replace(settings, extract=dataclasses.replace(settings.extract, n_jobs=1))
    return demo_dataset(Path(corpus_dir), settings, use_cache=not fast)


def overview(labels: pd.DataFrame) -> dict[str, Any]:
    """Headline numbers: pages, shares of positives, hard negatives, obfuscated and malformed pages, mirrors."""
    positives, negatives = labels[labels["label"] == 1], labels[labels["label"] == 0]
    mirrors = labels["mirror_of"].ne("") if "mirror_of" in labels else pd.Series(False, index=labels.index)
    return {
        "pages": len(labels),
        "positives": len(positives),
        "negatives": len(negatives),
        "positive_share": round(len(positives) / max(len(labels), 1), 3),
        "hard_negative_share_of_negatives": round(float(negatives["hard_negative"].mean()), 3)
        if len(negatives)
        else 0.0,
        "obfuscated_share_of_positives": round(float(positives["obfuscations"].ne("").mean()), 3)
        if len(positives)
        else 0.0,
        "malformed_share": round(float(labels["malformed"].mean()), 3) if "malformed" in labels else 0.0,
        "mirror_pages": int(mirrors.sum()),
        "families": int(labels["family"].nunique()),
    }


def counts(labels: pd.DataFrame, column: str) -> pd.DataFrame:
    """Pages per value of ``column``, split by label (columns ``negative``, ``positive``), with the share."""
    table = pd.crosstab(labels[column], labels["label"]).rename(columns={0: "negative", 1: "positive"})
    for name in ("negative", "positive"):
        if name not in table:
            table[name] = 0
    table = table[["negative", "positive"]]
    table["pages"] = table.sum(axis=1)
    table["share"] = (table["pages"] / max(len(labels), 1)).round(3)
    table.columns.name = None
    return table.sort_values("pages", ascending=False)


def obfuscation_counts(labels: pd.DataFrame) -> pd.DataFrame:
    """Positive pages per obfuscation kind (a page can have several, joined by ``+``); ``none`` for plain ones."""
    positives = labels.loc[labels["label"] == 1, "obfuscations"]
    kinds = positives.replace("", "none").str.split("+").explode()
    table = kinds.value_counts().rename_axis("obfuscation").to_frame("positive_pages")
    table["share_of_positives"] = (table["positive_pages"] / max(len(positives), 1)).round(3)
    return table


def examples(docs: pd.DataFrame, chars: int = 300, seed: int = 0) -> pd.DataFrame:
    """One positive page of each category and one hard negative, text truncated to ``chars`` characters."""
    picks = []
    for category in sorted(docs.loc[docs["label"] == 1, "category"].unique()):
        picks.append(docs[(docs["label"] == 1) & (docs["category"] == category)].sample(1, random_state=seed))
    hard = docs[(docs["label"] == 0) & docs["hard_negative"].astype(bool)]
    if len(hard):
        picks.append(hard.sample(1, random_state=seed))
    if not picks:
        return pd.DataFrame(columns=["label", "category", "kind", "lang", "layout", "text"])
    chosen = pd.concat(picks)
    text = chosen["text"].str.replace(r"\s+", " ", regex=True).str.strip()
    chosen = chosen.assign(text=text.where(text.str.len() <= chars, text.str.slice(0, chars) + "…"))
    columns = [c for c in ("label", "category", "kind", "lang", "layout", "text") if c in chosen]
    return chosen[columns].reset_index(drop=True)


def text_lengths(docs: pd.DataFrame, by: str = "label") -> pd.DataFrame:
    """Count, mean, min, median and max of the text length in characters and in words, per value of ``by``."""
    lengths = pd.DataFrame(
        {
            by: docs[by],
            "chars": docs["text"].str.len(),
            "words": docs["text"].str.split().str.len(),
        }
    )
    stats = lengths.groupby(by)[["chars", "words"]].describe()
    return stats.loc[:, (slice(None), ["count", "mean", "min", "50%", "max"])].round(0).astype(int)


def load_real_negatives(
    mode: str = "auto", folder: Path = SHARED_REAL_DATA, splits: tuple[str, ...] = ("dev", "test")
) -> pd.DataFrame | None:
    """The real negatives of all ``splits`` (column ``split`` added), or None when absent or ``mode`` is never.

    ``mode`` is ``auto`` (use them when present), ``always`` (absent is an error) or ``never``.
    """
    if mode not in REAL_NEGATIVE_MODES:
        raise ValueError(f"real negatives mode must be one of {REAL_NEGATIVE_MODES}, not {mode!r}")
    if mode == "never":
        return None
    frames = []
    for split in splits:
        frame = real_negatives(split, folder=folder)
        if frame is not None and len(frame):
            frames.append(frame.assign(split=split))
    if not frames:
        if mode == "always":
            raise FileNotFoundError(f"real negatives are required but {folder} has none")
        return None
    return pd.concat(frames, ignore_index=True)


def real_negative_counts(real: pd.DataFrame) -> pd.DataFrame:
    """Real texts per source, language and split, with how many are on a drug topic (hard negatives)."""
    table = (
        real.groupby(["source", "lang", "split"])
        .agg(texts=("id", "size"), drug_topic=("drug_topic", "sum"), median_chars=("text", _median_len))
        .reset_index()
    )
    table["drug_topic"] = table["drug_topic"].astype(int)
    return table


def _median_len(texts: pd.Series) -> int:
    return int(texts.str.len().median())


def problems(
    labels: pd.DataFrame, docs: pd.DataFrame, settings: Settings, tolerance: float = 0.15
) -> list[str]:
    """What is absurd about a corpus, compared with ``settings.corpus``; an empty list when it looks sane.

    Checks: both labels, every configured category among positives and language among pages, the shares
    of positives, hard negatives and obfuscated positives among template pages and the share of written
    pages within ``tolerance`` of the settings, mirrors
    pointing at pages of the corpus, and extracted documents that are nearly all pages, none empty.
    """
    found: list[str] = []
    corpus = settings.corpus
    if set(labels["label"]) != {0, 1}:
        found.append(f"labels present: {sorted(set(labels['label']))}, expected 0 and 1")
    positives, negatives = labels[labels["label"] == 1], labels[labels["label"] == 0]
    missing = set(corpus.category_shares) - set(positives["category"])
    if missing:
        found.append(f"categories missing among positives: {sorted(missing)}")
    missing = set(corpus.language_shares) - set(labels["lang"])
    if missing:
        found.append(f"languages missing: {sorted(missing)}")
    # the shares in params.yaml are the template pages'; written texts come with their authors' mix
    written = is_written(labels["family"])
    stats = overview(labels[~written]) if (~written).any() else overview(labels)
    expected = {
        "positive_share": corpus.positive_share,
        "hard_negative_share_of_negatives": corpus.hard_negative_share,
        "obfuscated_share_of_positives": corpus.obfuscated_share,
    }
    for name, target in expected.items():
        if abs(stats[name] - target) > tolerance:
            found.append(f"{name} = {stats[name]}, configured {target} (tolerance {tolerance})")
    if abs(written.mean() - corpus.written_share) > tolerance:
        found.append(
            f"written pages {written.mean():.2f}, configured {corpus.written_share} (tolerance {tolerance})"
        )
    if len(negatives) and (negatives["category"] != "none").any():
        found.append("negatives with a category other than 'none'")
    if "mirror_of" in labels:
        dangling = set(labels["mirror_of"]) - {""} - set(labels["id"])
        if dangling:
            found.append(f"{len(dangling)} mirrors point at pages not in the corpus")
    originals = int(labels["mirror_of"].eq("").sum()) if "mirror_of" in labels else len(labels)
    if len(docs) < 0.9 * originals:
        found.append(f"only {len(docs)} documents extracted from {originals} original pages")
    # a page whose only text is in its pictures is read by OCR: the model reads image_text with it
    read = docs["text"].fillna("")
    if "image_text" in docs:
        read = read + docs["image_text"].fillna("")
    empty = int(read.str.strip().eq("").sum())
    if empty:
        found.append(f"{empty} documents with empty text (none read in their pictures either)")
    return found
