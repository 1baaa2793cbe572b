"""The package's shape: imports go one way (domain below the run, the run below the commands) and never in a
circle, counting imports inside functions, which hide cycles from Python until the wrong module loads first."""

import ast

from ac_eval.paths import PACKAGE

# Lower layers never import higher ones. 0: shared plumbing; 1: the domain (records, benchmarks, conditions,
# scoring, lm-eval's hooks); 2: analysis of scored items and the model backends; 3: a run and its folder;
# 4: what consumes run folders; 5: the demo; 6: the command lines.
LAYERS = {
    "ac_eval": 0, "ac_eval.files": 0, "ac_eval.paths": 0, "ac_eval.console": 0,
    "ac_eval.evaluation": 1,
    "ac_eval.analysis": 2, "ac_eval.models": 2, "ac_eval.testing": 2,
    "ac_eval.run": 3,
    "ac_eval.board": 4, "ac_eval.post_training": 4,
    "ac_eval.demo": 5,
    "ac_eval.cli": 6, "ac_eval.__main__": 6, "ac_eval.lm_eval": 6,
}


def import_graph() -> dict[str, set[str]]:
    """module -> the ac_eval modules it imports anywhere in its source (relative imports resolved)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        if "_data" in path.parts:
            continue
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    graph[module].add(target)
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    raise AssertionError(f"{module}: no layer; add its package to LAYERS")


def test_no_module_imports_upward():
    upward = sorted(f"{m} -> {t}" for m, targets in import_graph().items() for t in targets if layer(t) > layer(m))
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = import_graph()
    cycles, state = [], {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_graph_sees_imports_inside_functions(tmp_path):
    """The check is only as good as its graph: a function-level import of the run from the domain is seen."""
    graph = import_graph()
    assert "ac_eval.run.folder" in graph["ac_eval.board.build"]  # imported inside entries_from_run
    assert "ac_eval.evaluation.verdicts" in graph["ac_eval.evaluation.benchmarks.mmsu"]


def test_functions_stay_short():
    """A function over 80 lines does several things; split it where its steps are (run_demo's seven steps, one
    parser per subcommand, the server's model and its HTTP handler)."""
    long = []
    for path in PACKAGE.rglob("*.py"):
        if "_data" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} "
                            f"({node.end_lineno - node.lineno + 1} lines)")
    assert not long, "\n".join(long)
