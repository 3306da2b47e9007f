"""One Spanish number parser (texto/numeros.py): the slot extractor must not grow a second one."""

import ast

from conftest import ROOT
from texto.numeros import NUMBER_WORDS, ONE_WORDS, number_at, numeric_words, parse_number

SOURCE = ROOT / "texto" / "extraccion.py"
TREE = ast.parse(SOURCE.read_text(encoding="utf-8"))


def _imported_modules() -> set[str]:
    names = set()
    for node in ast.walk(TREE):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


def _literal_words(node: ast.AST) -> list[str]:
    """The words of a literal collection or of a "a b c".split() table; [] for anything else."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "split":
        node = node.func.value
        return node.value.split() if isinstance(node, ast.Constant) and isinstance(node.value, str) else []
    if isinstance(node, ast.Dict):
        items = [*node.keys, *node.values]
    elif isinstance(node, (ast.Set, ast.List, ast.Tuple)):
        items = node.elts
    else:
        return []
    return [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]


def test_extractor_does_not_import_text2num():
    modules = _imported_modules()
    assert not any(m.split(".")[0] == "text_to_num" for m in modules), "read numbers through texto.numeros"
    assert "texto.numeros" in modules


def test_extractor_has_no_number_tables():
    """A table of number words (units, spellings, hundreds) belongs in numeros; a few words in a
    stopword list or an "un"/"una" check do not make one."""
    for node in ast.walk(TREE):
        words = _literal_words(node)
        numeric = [w for w in words if w in NUMBER_WORDS - ONE_WORDS]
        assert len(numeric) < 3 or len(numeric) * 4 < len(words), (node.lineno, numeric)


def test_extractor_defines_no_number_parser():
    functions = [n.name for n in ast.walk(TREE) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert not [f for f in functions if "number" in f or "numeric" in f], functions


def test_old_and_misspelled_forms_are_one_grammar():
    """The spellings the extractor used to know are the shared parser's now, for transcripts as well."""
    for phrase, value in [("diesiseis", 16), ("diesisiete", 17), ("diesiocho", 18), ("diesinueve", 19),
                          ("beinte", 20), ("diez y seis", 16), ("veinte y tres", 23), ("dos cientos", 200),
                          ("zero", 0), ("treinta y 3", 33)]:
        assert parse_number(phrase) == value, phrase
    assert numeric_words("las diez y siete".split()) == ["las", "10", "y", "7"]  # a time, not 17
    assert number_at("mil nueve treinta y ocho".split(), 0) == ("1938", 5)
