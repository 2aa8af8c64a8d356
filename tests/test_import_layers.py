"""Imports inside migrant_linkage run one way, from the record contract up to the command line.

The import graph is read with `ast` from src/ (top-level, function-level and TYPE_CHECKING
imports alike), so a cycle hidden inside a function still counts. Each top-level module or
subpackage is a *part*; LAYERS lists the parts from the bottom up. A part may import parts in
its own layer or below, never above, and the whole graph must be acyclic. Across parts, only
public names are imported (no `_private` name, and only names in the target's `__all__` when it
has one): reaching into another part's internals is how the cycles started.

Adding a module is a one-line change to LAYERS.
"""

from __future__ import annotations

import ast
import graphlib
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "migrant_linkage"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

#: Parts of the package from the bottom layer up. `migrant_linkage` is the package's own
#: __init__ (the public surface, which may name anything).
LAYERS: list[tuple[str, ...]] = [
    ("errors", "schema"),  # import nothing above them
    ("db",),  # the connection factory and SQL quoting
    (
        "io",
        "standardize",
        "synthetic",
        "evaluate",
        "sources",
        "input_checks",
        "jobfile",
        "courses",
    ),  # records in; courses
    ("enrolment", "profile"),  # the optional enrolment columns; the naming-convention profile
    ("comparisons", "blocking"),
    ("levels", "cheatsheet"),  # a model's levels by label; the cheat sheet run through them
    ("zones", "clustering"),  # routing of a scored pair; splitting a component
    ("spark_backend",),  # scoring on Spark
    ("model",),
    ("pipeline",),  # the stages after predict, shared by every front end
    ("engine",),  # dedupe, link and explain
    ("privacy", "review", "demo"),  # encoded linkage, the master index, the demo
    ("reconcile", "districts"),  # migrant flags across a state's systems; district lists
    ("report",),  # the HTML run report
    ("tuning",),  # notebook helpers, drawn with the report's charts
    ("service",),  # the HTTP API and the reviewer's screens over the master index
    ("cli", "__main__", PACKAGE),  # the command line and the public surface
]

#: Known edges that break a rule today, each with the reason. The pipeline refactor removes
#: them; an entry whose edge has gone (or is no longer a violation) fails the test, so the list
#: only shrinks. Keys are (importing module, imported module).
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a module of the package
    names: tuple[str, ...]  # names taken from it by `from X import ...`; () for `import X`
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str | None:
    if node.level == 0:
        return node.module
    base = importer.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def find_imports(modules: dict[str, Path]) -> list[Import]:
    """Every import of a package module, wherever it sits in the file."""
    found = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        found.append(Import(name, alias.name, (), node.lineno))
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, path.name == "__init__.py", node)
                if target not in modules:
                    continue
                plain = []
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    if submodule in modules:  # `from package import module`
                        found.append(Import(name, submodule, (), node.lineno))
                    else:
                        plain.append(alias.name)
                if plain:
                    found.append(Import(name, target, tuple(plain), node.lineno))
    return found


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def layer_of() -> dict[str, int]:
    return {part: i for i, layer in enumerate(LAYERS) for part in layer}


def exported_names(path: Path) -> set[str] | None:
    """The literal `__all__` of a module, or None when it has none (or builds it)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            try:
                return set(ast.literal_eval(node.value))
            except ValueError:
                return None
    return None


def find_cycle(edges: set[tuple[str, str]]) -> list[str] | None:
    graph: dict[str, set[str]] = {}
    for importer, imported in edges:
        graph.setdefault(importer, set()).add(imported)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        return list(err.args[1])
    return None


def upward_imports(imports: list[Import]) -> set[tuple[str, str]]:
    layers = layer_of()
    return {
        (i.importer, i.imported)
        for i in imports
        if layers[part_of(i.importer)] < layers[part_of(i.imported)]
    }


def internal_name_imports(
    imports: list[Import], modules: dict[str, Path]
) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for i in imports:
        if part_of(i.importer) == part_of(i.imported) or not i.names:
            continue
        public = exported_names(modules[i.imported])
        private = {
            n for n in i.names if n.startswith("_") or (public is not None and n not in public)
        }
        if private:
            found.setdefault((i.importer, i.imported), set()).update(private)
    return found


@pytest.fixture(scope="module")
def modules() -> dict[str, Path]:
    return find_modules(SRC)


@pytest.fixture(scope="module")
def imports(modules) -> list[Import]:
    return find_imports(modules)


def _where(imports: list[Import], edge: tuple[str, str]) -> str:
    lines = sorted({i.line for i in imports if (i.importer, i.imported) == edge})
    return f"{edge[0]} imports {edge[1]} (line {', '.join(map(str, lines))})"


# ---------------------------------------------------------------------------------------------
# The checks on the real package
# ---------------------------------------------------------------------------------------------


def test_every_part_of_the_package_has_a_layer(modules):
    layers = layer_of()
    unplaced = sorted({part_of(m) for m in modules} - layers.keys())
    assert not unplaced, f"add these to LAYERS in {Path(__file__).name}: {unplaced}"


def test_the_package_has_no_import_cycle(imports):
    edges = {(i.importer, i.imported) for i in imports if i.importer != i.imported}
    cycle = find_cycle(edges - KNOWN_VIOLATIONS.keys())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_run_from_the_record_contract_up_to_the_command_line(imports):
    upward = upward_imports(imports) - KNOWN_VIOLATIONS.keys()
    assert not upward, "imports against the layer order (see LAYERS):\n" + "\n".join(
        _where(imports, e) for e in sorted(upward)
    )


def test_parts_import_only_each_others_public_names(imports, modules):
    internal = {
        edge: names
        for edge, names in internal_name_imports(imports, modules).items()
        if edge not in KNOWN_VIOLATIONS
    }
    assert not internal, "imports of another part's internals (not in its __all__):\n" + (
        "\n".join(f"{_where(imports, e)}: {sorted(n)}" for e, n in sorted(internal.items()))
    )


def test_the_known_violations_list_only_shrinks(imports, modules):
    """An entry whose import is gone, or no longer breaks a rule, must be deleted."""
    edges = {(i.importer, i.imported) for i in imports}
    still_wrong = upward_imports(imports) | internal_name_imports(imports, modules).keys()
    stale = sorted(e for e in KNOWN_VIOLATIONS if e not in edges or e not in still_wrong)
    assert not stale, f"delete from KNOWN_VIOLATIONS, fixed: {stale}"


def test_nothing_outside_the_command_line_knows_argparse(modules):
    users = []
    for name, path in modules.items():
        if part_of(name) == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                named = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if "argparse" in named or getattr(node, "module", None) == "argparse":
                    users.append(name)
    assert not users, f"argparse belongs in migrant_linkage.cli: {sorted(set(users))}"


# ---------------------------------------------------------------------------------------------
# The checker itself, on made-up packages, so a broken checker cannot pass silently
# ---------------------------------------------------------------------------------------------


def _fake_package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    root = tmp_path / PACKAGE
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return find_modules(root)


def test_an_import_inside_a_function_is_seen_and_closes_a_cycle(tmp_path):
    modules = _fake_package(
        tmp_path,
        {
            "engine.py": "from migrant_linkage.model import Model\n",
            "model.py": "def train():\n    from migrant_linkage.engine import make_db_api\n",
        },
    )
    edges = {(i.importer, i.imported) for i in find_imports(modules)}
    assert ("migrant_linkage.model", "migrant_linkage.engine") in edges
    assert set(find_cycle(edges) or []) == {"migrant_linkage.engine", "migrant_linkage.model"}


def test_the_report_importing_the_command_line_is_an_upward_import(tmp_path):
    modules = _fake_package(
        tmp_path,
        {
            "report/__init__.py": "from . import page\n",
            "report/page.py": "from migrant_linkage import cli\n",
            "cli/__init__.py": "from migrant_linkage.report import page\n",
        },
    )
    imports = find_imports(modules)
    assert upward_imports(imports) == {("migrant_linkage.report.page", "migrant_linkage.cli")}
    cycle = find_cycle({(i.importer, i.imported) for i in imports})
    assert cycle is not None and "migrant_linkage.cli" in cycle


def test_a_name_missing_from_all_is_an_internal_import(tmp_path):
    modules = _fake_package(
        tmp_path,
        {
            "engine.py": "__all__ = ['dedupe']\nSCORING_PRIOR = 0.5\ndef dedupe(): ...\n",
            "privacy.py": "from migrant_linkage.engine import SCORING_PRIOR, dedupe\n",
        },
    )
    found = internal_name_imports(find_imports(modules), modules)
    assert found == {("migrant_linkage.privacy", "migrant_linkage.engine"): {"SCORING_PRIOR"}}
