"""The house in docs/ARQUITECTURA.md, held against the code: who may import whom, read from the imports."""

import ast
import subprocess
import sys

import pytest

from conftest import ROOT

# Floors from the bottom; a module imports only from lower floors (or from its own package).
FLOORS = {"cli": 0, "texto": 0, "corpus": 1, "modelo": 2, "entrenamiento": 3, "estacionamiento": 3, "comun": 4}
PACKAGES = [name for name in FLOORS if (ROOT / name).is_dir()]
COMMANDS = sorted(p.stem for p in ROOT.glob("*.py") if p.stem != "comun")
COMMAND_FLOOR = 5
# Third-party libraries a floor must never load (directly; what it imports from below is checked there).
FORBIDDEN = {
    "texto": {"torch", "whisper", "pytorch_lightning", "lightning", "numpy"},
    "cli": {"torch", "whisper", "pytorch_lightning", "lightning"},
    "corpus": {"torch", "pytorch_lightning", "lightning"},
    "modelo": {"pytorch_lightning", "lightning"},
    "estacionamiento": {"torch", "whisper", "pytorch_lightning", "lightning"},
}


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path
    for command in COMMANDS:
        yield command, ROOT / f"{command}.py"
    yield "comun", ROOT / "comun.py"


def _imports(path) -> list[tuple[int, str]]:
    """(line, top-level module name) of every import in the file, including those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _floor(name: str) -> int | None:
    return COMMAND_FLOOR if name in COMMANDS else FLOORS.get(name)


def test_every_import_goes_down_a_floor():
    broken = []
    for owner, path in _sources():
        mine = _floor(owner)
        for line, name in _imports(path):
            theirs = _floor(name)
            if theirs is None or name == owner:
                continue  # a library, or the module's own package
            if owner in COMMANDS and name in COMMANDS:
                continue  # a command may call another command's functions (demo -> fine_tune, ref_test)
            if theirs >= mine:
                broken.append(f"{path.relative_to(ROOT)}:{line} imports {name} (floor {theirs}, its own is {mine})")
    assert not broken, "\n".join(broken)


def test_no_floor_loads_what_it_must_not():
    broken = [f"{path.relative_to(ROOT)}:{line} imports {name}"
              for owner, path in _sources() if owner in FORBIDDEN
              for line, name in _imports(path) if name in FORBIDDEN[owner]]
    assert not broken, "\n".join(broken)


@pytest.mark.base
@pytest.mark.voz
def test_top_level_holds_only_commands_and_the_named_files():
    modules = {p.name for p in ROOT.glob("*.py")}
    assert modules == {"comun.py", "fine_tune.py", "ref_test.py", "demo.py", "sintetico.py", "preparar_datos.py",
                       "exportar.py", "bench.py", "asistente.py", "kiosco.py", "simulacion.py"}
    for path in sorted(ROOT.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.stem != "comun":
            last = [n for n in tree.body if isinstance(n, ast.FunctionDef)][-1]
            assert last.name == "main", f"{path.name}: main() is not the last function"


@pytest.mark.parametrize("command", ["kiosco.py", "asistente.py"])
def test_the_assistant_loads_no_lightning_nor_training(command):
    """What the issue checks by hand: `python -X importtime kiosco.py --help` loads no Lightning."""
    result = subprocess.run([sys.executable, "-X", "importtime", command, "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert loaded and not loaded & {"pytorch_lightning", "lightning", "lightning_fabric", "entrenamiento", "comun"}


def test_text_code_runs_without_torch():
    code = ("import sys, texto.extraccion, texto.numeros, texto.letras, texto.metricas, corpus.datos, cli; "
            "assert not {'torch', 'whisper'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
