"""``python -m classifier`` is the ``classifier`` command."""

from classifier.cli import run

run()
