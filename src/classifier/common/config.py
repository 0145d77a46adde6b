"""Typed, frozen settings read from ``params.yaml``, one section per stage, and the project paths.

Nothing is read at import time: call :func:`load_settings`. A setting with a fixed set of values
(``choice``) is checked whenever a section is made, so a typo in params.yaml or ``--set`` fails at
once with the allowed values, not after minutes of fitting.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DATA_DIR = PROJECT_ROOT / "data"
DEMO_DIR = DATA_DIR / "demo"  # classifier demo-data writes the corpus here; training reads it by default
INTERIM_DIR = DATA_DIR / "interim"
EXTRACT_CACHE = INTERIM_DIR / "extract_cache.sqlite"
SCORE_RUNS_DIR = INTERIM_DIR / "score_runs"  # one checkpoint database per scoring run, for resumption
QUEUE_DB = DATA_DIR / "queue.db"
MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"
SHARED_REAL_DATA = PROJECT_ROOT.parent / "shared" / "data" / "real"


def choice(default: str, *others: str) -> Any:
    """A setting that takes one of a fixed set of values, ``default`` first."""
    return field(default=default, metadata={"choices": (default, *others)})


@dataclass(frozen=True)
class _Section:
    """A params.yaml section: its choice settings are checked when it is made."""

    def __post_init__(self) -> None:
        section = SECTION_NAMES.get(type(self).__name__, type(self).__name__)
        for item in dataclasses.fields(self):
            allowed = item.metadata.get("choices")
            if allowed and getattr(self, item.name) not in allowed:
                raise ValueError(
                    f"{section}.{item.name} must be one of {', '.join(allowed)}, not {getattr(self, item.name)!r}"
                )


@dataclass(frozen=True)
class CorpusSettings(_Section):
    n_pages: int = 7800
    seed: int = 42
    positive_share: float = 0.45
    category_shares: dict[str, float] = field(
        default_factory=lambda: {"sale": 0.6, "recruitment": 0.25, "propaganda": 0.15}
    )
    language_shares: dict[str, float] = field(default_factory=lambda: {"ru": 0.65, "kk": 0.2, "mixed": 0.15})
    hard_negative_share: float = 0.65
    obfuscated_share: float = 0.33
    negative_obfuscated_share: float = 0.33  # legitimate pages carry disguises too (no shortcut)
    malformed_share: float = 0.08
    negative_contact_share: float = 0.9  # negatives that give a Telegram handle, bot or phone
    positive_phone_share: float = 0.5  # positives that give a phone (WhatsApp) besides their contacts
    negative_emoji_share: float = 0.3  # negatives whose lines start with emoji, as real posts' do
    negative_short_share: float = 0.85  # template negatives cut to their first one or two blocks
    negative_telegram_share: float = 0.35  # template negatives posted as a Telegram channel's post
    written_negative_short_share: float = 0.4  # written negatives cut to their first lines (a teaser)
    written_share: float = 0.70  # pages that are a hand-written text (corpus/written/) instead of a template
    mirror_share: float = 0.08  # positive pages re-posted on 1-3 mirror sites with the same text and contacts
    image_share: float = 0.05  # pages (positive and negative alike) whose text blocks are only in a picture
    encoding_shares: dict[str, float] = field(
        default_factory=lambda: {"utf-8": 0.7, "windows-1251": 0.2, "koi8-r": 0.1}
    )
    charset_declared: dict[str, float] = field(
        default_factory=lambda: {"header": 0.45, "meta": 0.35, "none": 0.2}
    )


@dataclass(frozen=True)
class IngestSettings(_Section):
    max_page_bytes: int = 5_000_000
    chunk_size: int = 256


EXTRACT_ENGINES = ("trafilatura", "resiliparse")


@dataclass(frozen=True)
class ExtractSettings(_Section):
    engine: str = choice(*EXTRACT_ENGINES)  # resiliparse: the fast mode for large crawls (see README)
    n_jobs: int = 2
    batch_size: int = 16
    min_main_text_chars: int = 200
    favor_recall: bool = True
    cache: bool = True
    max_text_chars: int = 100_000
    page_timeout_seconds: float = 20.0  # a page taking longer becomes an error row (0: no limit)
    # text in images (extract/image_text.py): Tesseract with Debian's language data; the model reads it
    ocr: bool = True  # read text in images when Tesseract and its data are installed (else off, said once)
    ocr_languages: str = "rus+kaz+eng"  # Tesseract's language data, joined by "+"
    ocr_tessdata: str = ""  # folder of *.traineddata; empty: $TESSDATA_PREFIX, else Debian's
    ocr_max_images_per_page: int = 8  # images read per page, in page order; the rest skipped with a reason
    ocr_min_side: int = 32  # narrower or shorter images (icons, spacers, tracking pixels) are skipped
    ocr_max_pixels: int = 20_000_000  # larger ones (by their header, before decoding) are refused
    ocr_max_bytes: int = 10_000_000  # larger files are refused unread
    ocr_timeout_seconds: float = 10.0  # an image taking Tesseract longer becomes an error (0: no limit)


@dataclass(frozen=True)
class NormalizeSettings(_Section):
    placeholder_tokens: bool = True


@dataclass(frozen=True)
class ModelSettings(_Section):
    estimator: str = choice("logreg", "linear_svm", "complement_nb", "sgd")
    C: float = 32.0
    nb_alpha: float = 0.3
    calibration: str = choice("sigmoid", "isotonic")
    folds: int = 5
    n_jobs: int = 2  # cross-validation folds fitted in parallel threads
    seed: int = 0
    feature_set: str = choice("subword", "sklearn_char")  # fast, cached per word | reference, slow
    char_ngrams: tuple[int, int] = (3, 5)
    min_df: int = 2
    max_features: int = 300_000
    word_bigrams: bool = True
    meta_weight: float = 0.0  # counted surface signals; off: they no longer help (README ablation)
    head: str = choice(
        "linear", "boosted"
    )  # boosted: gradient-boosted trees over the linear score, cues and meta
    cue_stance: bool = False  # pairs near a warning word count apart (a report, not an offer)
    cue_weight: float = 0.3  # cue counts and near pairs from cue_lexicon.yaml (cues.py); 0: none


@dataclass(frozen=True)
class TrainSettings(_Section):
    holdout_share: float = 0.25  # share of template families held out for evaluation
    seed: int = 7
    target_recall: float = 0.90  # the threshold keeps this recall on out-of-fold scores (triage)
    ship_full_fit: bool = True  # once assessed, refit on all families and disguises: the model shipped
    real_negatives: str = choice("auto", "always", "never")  # auto: when ../shared/data/real exists
    real_negatives_max: int = 12_000  # dev rows sampled as extra negatives
    real_negative_weight: float = 0.03  # per-row weight: many short real texts must not drown the corpus
    template_weight: float = 1.0  # per-row weight of the demo corpus's template pages (written pages: 1)
    expert_weight: float = (
        3.0  # per-row weight of expert decisions: real pages, judged by the people who block them
    )
    robustness_kinds: tuple[str, ...] = ("separators", "stylised")  # disguises kept out of training
    explain_top_k: int = 5
    error_analysis_n: int = 50
    experiment: str = "training"  # the MLflow experiment training runs go to
    registered_model: str = "drug-ad-classifier"  # the registry name: its champion is what scoring uses


@dataclass(frozen=True)
class EvaluateSettings(_Section):
    expert_capacity: int = 100  # K in recall@K: cases experts can check in a batch
    gate_metric: str = "challenge.average_precision"  # average_precision | roc_auc (bootstrapped)
    gate_confidence: float = 0.90  # interval of the challenger's gain; promoted when it lies above 0
    gate_margin: float = 0.005  # or: the interval above -margin and better on gate_secondary
    gate_secondary: str = "challenge.minimal_pairs_ordered"
    gate_resamples: int = 1000  # bootstrap draws of whole families
    gate_guards: dict[str, float] = field(default_factory=lambda: {"challenge.hard_negative_fpr": 0.01})


@dataclass(frozen=True)
class ScoreSettings(_Section):
    model: str = "models:/drug-ad-classifier@champion"
    db: str = ""  # SQLAlchemy URL of the case store; empty: sqlite at data/queue.db
    chunk_size: int = 512  # documents scored and checkpointed together
    explain_top_k: int = 5
    excerpt_chars: int = 400
    # priority = 100 * score * severity[category] * source_weights[source_kind]
    #            * (1 + cluster_weight * ln(cluster_size)) * recency, recency = max(min_recency, 0.5 ** (age / half_life))
    severity: dict[str, float] = field(
        default_factory=lambda: {"sale": 1.0, "recruitment": 1.0, "propaganda": 0.7, "none": 0.5}
    )
    source_weights: dict[str, float] = field(
        default_factory=lambda: {"telegram": 1.1, "onion": 1.1, "social": 1.0, "classifieds": 1.0, "web": 1.0}
    )
    cluster_weight: float = 0.15
    recency_half_life_days: float = 30.0
    min_recency: float = 0.5
    # duplicate grouping
    shingle_words: int = 3
    minhash_permutations: int = 128
    lsh_bands: int = 32
    similarity_threshold: float = 0.8  # estimated Jaccard of word shingles that makes two pages copies
    containment_threshold: float = 0.7  # or this share of the shorter text's shingles inside the longer
    link_contacts: tuple[str, ...] = ("telegram", "wallet", "onion")
    max_contact_group: int = 200  # a contact on more pages than this is a public one, not a shop's
    # known shops (score/known.py): a page matching a shop experts confirmed is raised
    known_shop_score: float = 0.9  # its score counts as at least this
    known_shop_weight: float = 1.5  # and its priority is multiplied by this
    # drift
    drift_bins: int = 10
    psi_warning: float = 0.25
    log_to_mlflow: bool = True
    drift_plot: bool = False  # a PNG of the histogram too: importing matplotlib costs ~1 s a run
    memory_budget_mb: float = 1500.0  # a peak RSS above this (run or one worker) is logged as a warning
    # models load only from these folders or the MLflow registry: joblib/pickle files run code (model_trust.py)
    trusted_model_dirs: tuple[str, ...] = ("models",)
    # registered versions loaded once from MLflow are kept here, relative to the project ("": off)
    model_cache_dir: str = "data/interim/model_cache"
    allow_untrusted_model: bool = False  # classifier score --allow-untrusted-model


@dataclass(frozen=True)
class ReviewSettings(_Section):
    host: str = "127.0.0.1"  # loopback: put a TLS proxy in front to serve other machines
    port: int = 8000
    # addresses of reverse proxies whose X-Forwarded-For is believed (else every client is the proxy)
    trusted_proxies: tuple[str, ...] = ()
    secure_cookies: bool = (
        False  # True: cookies only over HTTPS (behind a TLS proxy); else when the request is HTTPS
    )
    confirmations_required: int = 1  # 2: a case counts as confirmed only when two experts confirmed it
    # names the app answers to (the Host header): others get 400, so a DNS-rebinding page cannot reach it;
    # behind a proxy, add the name users type. "*" allows any (not advised)
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    session_hours: float = 12.0
    session_idle_minutes: float = 60.0  # a session without a request for this long ends (0: no idle limit)
    # per account and address pair, within login_window_minutes; then that pair waits login_delay_seconds,
    # doubled at each further failure (at most the window); other addresses are not held back
    login_max_failures: int = 5
    login_window_minutes: float = 15.0
    login_delay_seconds: float = 60.0
    login_max_failures_per_ip: int = 20  # across accounts, in the same window (password spraying)
    login_checks_at_once: int = 2  # password checks (argon2: a core and 64 MiB each) in their own threads
    claim_minutes: float = 15.0  # a case opened through "next" stays the expert's this long
    per_page: int = 50
    uncertain_limit: int = 50
    evidence_sentences: bool = True  # highlight the evidence sentences as well as the evidence words
    time_zone: str = "Asia/Almaty"  # IANA name: the pages show times in this zone, and name it

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            ZoneInfo(self.time_zone)
        except (ValueError, OSError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(
                f"review.time_zone: unknown time zone {self.time_zone!r} (an IANA name such as Asia/Almaty)"
            ) from exc


@dataclass(frozen=True)
class SearchSettings(_Section):
    experiment: str = "search"  # MLflow experiment: a parent run per search, a nested run per trial
    folds: int = 3  # GroupKFold by family over the training rows
    max_trials: int = 0  # 0: the whole grid; else this many combinations drawn with ``seed``
    seed: int = 0
    # ``section.key: [values]`` (model.* and train.* settings)
    space: dict[str, list] = field(default_factory=lambda: {"model.C": [2.0, 4.0, 8.0]})


@dataclass(frozen=True)
class Settings:
    corpus: CorpusSettings = field(default_factory=CorpusSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    normalize: NormalizeSettings = field(default_factory=NormalizeSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    evaluate: EvaluateSettings = field(default_factory=EvaluateSettings)
    score: ScoreSettings = field(default_factory=ScoreSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    search: SearchSettings = field(default_factory=SearchSettings)


SECTIONS: dict[str, type] = {
    "corpus": CorpusSettings,
    "ingest": IngestSettings,
    "extract": ExtractSettings,
    "normalize": NormalizeSettings,
    "model": ModelSettings,
    "train": TrainSettings,
    "evaluate": EvaluateSettings,
    "score": ScoreSettings,
    "review": ReviewSettings,
    "search": SearchSettings,
}
SECTION_NAMES = {cls.__name__: name for name, cls in SECTIONS.items()}
T = TypeVar("T")


def _build(cls: type[T], raw: dict[str, Any], section: str) -> T:
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"params.yaml [{section}]: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    # YAML has lists where settings have tuples: frozen settings stay immutable all the way down
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return cls(**values)


def load_settings(path: Path | str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Settings:
    """Read ``params.yaml`` (the project's by default) into frozen settings; unknown keys are errors.

    ``overrides``: ``section.key=value`` strings (``classifier train --set model.C=8``), values read as
    YAML (``8``, ``0.95``, ``true``, ``[2, 5]``), applied after the file.
    """
    if path and not Path(path).exists():  # a mistyped --params must not silently give the defaults
        raise FileNotFoundError(f"no params file at {path}")
    path = Path(path) if path else DEFAULT_PARAMS
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    raw = raw or {}
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)}; known: {sorted(SECTIONS)}")
    return settings_from_dict(_changed(raw, dict(map(parse_override, overrides))))


def override(settings: Settings, changes: dict[str, Any]) -> Settings:
    """``settings`` with ``{"model.C": 8, ...}`` applied (checked as ``--set`` is)."""
    return settings_from_dict(_changed(dataclasses.asdict(settings), changes))


def parse_override(text: str) -> tuple[str, Any]:
    """``"model.C=8"`` -> ("model.C", 8): the value read as YAML."""
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"--set wants section.key=value, not {text!r}")
    return name.strip(), yaml.safe_load(value)


def _changed(raw: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Sections as plain data with ``{"section.key": value}`` applied; the section and key must exist."""
    raw = dict(raw)
    for name, value in changes.items():
        section, dot, key = name.partition(".")
        if not dot or not key:
            raise ValueError(f"--set wants section.key=value, not {name!r}")
        if section not in SECTIONS:
            raise ValueError(f"--set {name}: unknown section {section!r}; known: {sorted(SECTIONS)}")
        known = {f.name for f in dataclasses.fields(SECTIONS[section])}  # type: ignore[arg-type]
        if key not in known:
            raise ValueError(f"--set {name}: unknown key {key!r} in [{section}]; known: {sorted(known)}")
        raw[section] = {**(raw.get(section) or {}), key: value}
    return raw


def settings_from_dict(raw: dict[str, Any]) -> Settings:
    """Settings from their sections as plain data (params.yaml, or ``settings.json`` a run logged)."""
    return Settings(**{name: _build(cls, raw.get(name) or {}, name) for name, cls in SECTIONS.items()})
