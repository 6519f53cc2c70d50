"""The package's import graph: no cycles between its modules, and no module reaching into another's
private (`_name`) names. Read from the source with ast, every import counted, also those inside
functions (a lazy import is still a dependency)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "diffpose_cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path):
    """(imported module, imported names) of every import in the file, resolved to full names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def graph():
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges, private = {m: set() for m in modules}, []
    for m, path in modules.items():
        for target, names in imports_of(path):
            if target in modules:
                for n in names:
                    if f"{target}.{n}" in modules:      # `from . import lifter`: the module itself
                        edges[m].add(f"{target}.{n}")
                    else:
                        edges[m].add(target)
                        if n.startswith("_") and not n.endswith("__") and target != m:  # dunders are public
                            private.append(f"{m} imports {n} from {target}")
    for m in edges:
        edges[m].discard(m)
        if m in modules and modules[m].name != "__init__.py":
            # importing a submodule runs its package's __init__, which is no dependency of ours
            edges[m] = {t for t in edges[m] if modules[t].name != "__init__.py" or not m.startswith(t)}
    return edges, private


def find_cycle(edges):
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == "open":
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle():
    edges, _ = graph()
    assert len(edges) > 20
    cycle = find_cycle({m: {t for t in ts if t != "diffpose_cli"} for m, ts in edges.items()})
    assert cycle is None, " -> ".join(cycle)


def test_no_module_imports_another_modules_private_names():
    _, private = graph()
    assert not private, private


def test_the_checker_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_walk_covers_every_subpackage():
    """The folders are the pipeline's stages; the checks above must see inside them."""
    edges, _ = graph()
    packages = {m.rsplit(".", 1)[0] for m in edges if m.count(".") >= 2}
    assert {"diffpose_cli.pose2d", "diffpose_cli.lifter", "diffpose_cli.placement", "diffpose_cli.export",
            "diffpose_cli.batch", "diffpose_cli.cli", "diffpose_cli.studio", "diffpose_cli.training"} <= packages


def test_no_module_is_longer_than_450_lines():
    """A module that grows past this holds more than one concept: split it by concept."""
    lines = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert not {name: n for name, n in lines.items() if n > 450}


def test_every_subpackage_goes_into_the_wheel():
    """pyproject.toml lists the packages by name (the weights folder is mapped in as one of them), so a new
    sub-folder left off that list would be missing from the wheel while every editable run still works."""
    import sys
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert folders <= listed, f"not in pyproject.toml's packages: {sorted(folders - listed)}"
    stray = [str(d.relative_to(PACKAGE)) for d in PACKAGE.rglob("*")
             if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py")) and not (d / "__init__.py").exists()]
    assert not stray, f"folders of modules without __init__.py (not packaged): {stray}"
