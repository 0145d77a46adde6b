"""The module names that models logged before the stage packages carry, mapped to where the code lives now.

A stored model names its code by module: MLflow's pyfunc flavour by ``loader_module``
(``classifier.mlflow_model``), the skops file by each transformer's class (``classifier.features.
SubwordVectorizer``). So that a champion registered by an older version still loads, and can still be
compared by the gate, importing one of these names gives the module that replaced it. Only names that
can appear inside a stored model are listed: code imports the new names.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

OLD_NAMES = {
    "classifier.mlflow_model": "classifier.modeling.mlflow_model",
    "classifier.features": "classifier.modeling.features",
    "classifier.model": "classifier.modeling.model",
    "classifier.cues": "classifier.text.cues",
    "classifier.normalize": "classifier.text.normalize",
    "classifier.contacts": "classifier.text.contacts",
}


class _OldNameFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old name with the new module itself (one module object, so classes compare equal)."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in OLD_NAMES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(OLD_NAMES[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the new module was executed when it was imported."""


def install() -> None:
    """Let the old names import (once per process)."""
    if not any(isinstance(finder, _OldNameFinder) for finder in sys.meta_path):
        sys.meta_path.append(_OldNameFinder())
