"""The package's modules import each other without a cycle (read from their source, not run)."""
import ast
import importlib.util
import pathlib
import pkgutil

# kernels/ and datasets/ sit beside mlp_scratch/ and are mapped into it (pyproject's package-dir):
# walking mlp_scratch's folder does not reach them.
PACKAGES = ("mlp_scratch", "mlp_scratch.kernels", "mlp_scratch.datasets")


def package_modules():
    """{module name: source file} of every module of the package."""
    modules = {}
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        modules[package] = spec.origin
        for info in pkgutil.walk_packages(spec.submodule_search_locations, package + "."):
            modules[info.name] = importlib.util.find_spec(info.name).origin
    return modules


def imported_modules(name, path, modules):
    """The package's modules that module ``name`` imports, at module level or in a function (an
    import deferred into a function closes a cycle all the same, only later)."""
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(pathlib.Path(path).read_text(), path)):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            source = ".".join(part for part in (base if node.level else "", node.module or "") if part)
            for alias in node.names:  # "from P import N" imports the submodule P.N if there is one, else P
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in modules else source)
    return {target for target in targets if target in modules and target != name}


def find_cycle(graph):
    """One cycle of ``graph`` (node -> successors) as a list of nodes, or None."""
    state, stack = {}, []  # state: "open" while on the stack, "done" after

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for successor in sorted(graph[node]):
            if state.get(successor) == "open":
                return stack[stack.index(successor):] + [successor]
            if successor not in state:
                cycle = visit(successor)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_the_package_modules():
    modules = package_modules()
    assert "mlp_scratch.experiments.sweep" in modules and "mlp_scratch.kernels" in modules
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    # the parse sees absolute and relative imports
    assert "mlp_scratch.experiments.trials" in graph["mlp_scratch.experiments.sweep_dask"]
    assert "mlp_scratch.cs231n.layers" in graph["mlp_scratch.cs231n.fc_net"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
