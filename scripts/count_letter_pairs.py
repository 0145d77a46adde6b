"""Count the letter pairs of real Russian and Kazakh text for charset detection (src/classifier/ingest/decoding.py).

Reads the dev split of ../shared/data/real/ and writes src/classifier/ingest/letter_pairs.json: for each language,
how often each case-folded Cyrillic letter is followed by each other letter or by a word boundary. Only
these counts go into the repository, never the texts. Run it again when the corpora change:

    .venv/bin/python scripts/count_letter_pairs.py [--real ../shared/data/real]
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALPHABET = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі"  # Russian, then the letters Kazakh adds
FILES = {
    "ru": ["ru_telegram_news.jsonl.gz", "ru_forum_sensitive.jsonl.gz", "ru_social_taiga.jsonl.gz"],
    "kk": ["kk_news_sentences.jsonl.gz", "kk_ud_ktb.jsonl.gz"],
}
SOURCES = {
    "ru_telegram_news.jsonl.gz": "NKTKLN/telegram-news-classifier (CC BY 4.0)",
    "ru_forum_sensitive.jsonl.gz": "s-nlp/inappropriate-sensitive-topics (CC BY-NC-SA 4.0)",
    "ru_social_taiga.jsonl.gz": "UniversalDependencies/UD_Russian-Taiga (CC BY-SA 4.0)",
    "kk_news_sentences.jsonl.gz": "IS2AI/KazNERD (CC BY 4.0)",
    "kk_ud_ktb.jsonl.gz": "UniversalDependencies/UD_Kazakh-KTB (CC BY-SA 4.0)",
}


def count_pairs(texts: list[str]) -> list[list[int]]:
    """Pair counts over len(ALPHABET) + 1 symbols, the last one a word boundary (anything not a letter)."""
    boundary = len(ALPHABET)
    index = {letter: i for i, letter in enumerate(ALPHABET)}
    counts = [[0] * (boundary + 1) for _ in range(boundary + 1)]
    for text in texts:
        previous = boundary
        for char in text.casefold():
            current = index.get(char, boundary)
            if current != boundary or previous != boundary:
                counts[previous][current] += 1
            previous = current
        if previous != boundary:
            counts[previous][boundary] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "real")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "src" / "classifier" / "ingest" / "letter_pairs.json"
    )
    args = parser.parse_args()
    result: dict[str, object] = {
        "about": "letter-pair counts of the dev split of these corpora (counts only, no text): "
        + "; ".join(SOURCES.values()),
        "alphabet": ALPHABET,
    }
    for lang, files in FILES.items():
        texts = []
        for name in files:
            with gzip.open(args.real / name, "rt", encoding="utf-8") as lines:
                texts += [row["text"] for row in map(json.loads, lines) if row["split"] == "dev"]
        result[lang] = count_pairs(texts)
        print(f"{lang}: {len(texts)} texts")
    args.out.write_text(
        json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
