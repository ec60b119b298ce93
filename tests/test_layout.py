"""The package's structure: imports run one way, and Keras internals are
reached only through `keras_drnas.utils.keras_compat`."""

import ast
import pathlib
import re

import keras

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_drnas"
# chosen -> learnt -> shipped; data beside them; utils below everything.
MAY_IMPORT = {
    "utils": {"utils"},
    "data": {"data", "utils"},
    "search_space": {"search_space", "utils"},
    "search_strategy": {"search_space", "search_strategy", "utils"},
    "derived_model": {"search_space", "search_strategy", "derived_model", "data", "utils"},
    "tuning": {"search_space", "search_strategy", "derived_model", "data", "utils", "tuning"},
    "plots": {"search_space", "utils", "plots"},  # reads a run's files, never a model
}


def sources():
    return sorted(PACKAGE.rglob("*.py"))


def imported_roles(path):
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "keras_drnas" and len(parts) > 1:
                yield parts[1], node.lineno


def test_imports_run_one_way():
    wrong = []
    for path in sources():
        role = path.relative_to(PACKAGE).parts[0]
        if role not in MAY_IMPORT:  # the public namespaces and the CLI sit on top
            continue
        for imported, line in imported_roles(path):
            if imported not in MAY_IMPORT[role]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} ({role}) imports {imported}")
    assert not wrong, "\n".join(wrong)


def _keras_private_names():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    objects = [model, model.layers[1], optimizer, keras.callbacks.Callback(), model.trainable_variables[0]]
    names = set()
    for obj in objects:
        names |= {n for n in dir(obj) if n.startswith("_") and not n.startswith("__")}
    return names


def test_keras_internals_only_in_the_compatibility_module():
    compat = PACKAGE / "utils" / "keras_compat.py"
    code = {path: path.read_text() for path in sources()}
    ours = set()  # private names the library defines itself
    for text in code.values():
        ours |= set(re.findall(r"def (_\w+)", text)) | set(re.findall(r"self\.(_\w+)\s*=", text))
    private = _keras_private_names() - ours
    found = []
    for path, text in code.items():
        if path == compat:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for name in re.findall(r"\.(_[a-z]\w*)", line):
                if name in private:
                    found.append(f"{path.relative_to(PACKAGE)}:{number}: {name}")
    assert not found, "\n".join(found)
    assert "_flatten_layers" in private  # the check sees Keras' private names
