"""The package's folders are the pipeline's stages, and imports only run one way: docs/architecture.md.

Every import in the package counts, including those inside functions (a lazy import still ties two
modules together): no module imports itself back through others, and no stage imports a later one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "classifier"
# the stages in the order data flows; a stage may import itself and the stages before it
STAGES = ("common", "ingest", "text", "extract", "corpus", "modeling", "score", "queue", "review", "analysis")
# the entry points above every stage: the command line, the demo workflow and the package root
ENTRY_POINTS = ("classifier", "classifier.__main__", "classifier.cli", "classifier.demo")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").exists() or (PACKAGE.parent / relative).is_dir()


def _imports(path: Path) -> set[str]:
    """The project modules ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("classifier")}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("classifier")
        ):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if _is_module(name) else node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) - {_module_name(p)} for p in sorted(PACKAGE.rglob("*.py"))}


def is_entry_point(module: str) -> bool:
    return (
        any(module == entry or module.startswith(entry + ".") for entry in ENTRY_POINTS[1:])
        or module == "classifier"
    )


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def test_every_module_belongs_to_a_stage_or_is_an_entry_point() -> None:
    strays = [m for m in import_graph() if stage_of(m) is None and not is_entry_point(m)]
    assert not strays, f"modules outside the stage folders: {strays}"


def test_no_stage_imports_a_later_stage() -> None:
    wrong = []
    for module, imported in import_graph().items():
        stage = stage_of(module)
        for target in imported:
            target_stage = stage_of(target)
            if is_entry_point(target) and stage is not None and target != "classifier":
                wrong.append(f"{module} -> {target} (an entry point)")
            elif stage and target_stage and STAGES.index(target_stage) > STAGES.index(stage):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the flow of data:\n" + "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles() -> None:
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_review_app_does_not_load_the_model_stack() -> None:
    """Highlighting words needs the tokenizer (text.words), not scikit-learn, NLTK or MLflow."""
    program = "import sys, classifier.review.app; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout
    assert not {"sklearn", "nltk", "mlflow", "trafilatura"} & set(ast.literal_eval(loaded))


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, f"{path.name} has more than {MAX_MODULE_LINES} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines in {path.name}: {long}"
