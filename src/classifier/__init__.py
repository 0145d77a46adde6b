"""Drug-ad classifier: ingest → extract → model → score → queue → review (docs/architecture.md)."""

from classifier.modeling import old_names

old_names.install()  # models logged by older versions name modules that have since moved
