"""Spanish command lines: the one argparse set-up every command of the project uses.

argparse writes its usage prefix, section titles, defaults and errors in English; our users read
Spanish, so those are translated here once instead of in each command.
"""

from __future__ import annotations

import argparse
import re
import sys

# argparse's own messages that a user can trigger, in Spanish.
_ERRORS_ES = [
    (r"the following arguments are required: (.*)", r"falta la opción obligatoria \1"),
    (r"argument (\S+): invalid (int|float) value: (.*)", r"\1: se esperaba un número, no \3"),
    (r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)", r"\1: opción inválida \2 (elegí entre \3)"),
    (r"argument (\S+): expected one argument", r"\1: falta el valor"),
    (r"argument (\S+): (.*)", r"\1: \2"),
    (r"unrecognized arguments: (.*)", r"opciones desconocidas: \1"),
]


def remedy_problems(keep_delta: float, merge_pretrained: float) -> list[str]:
    """Out-of-range values of the export-time remedies against forgetting, in Spanish (empty: all fine)."""
    problems = []
    if not 0 < keep_delta <= 1:
        problems.append(f"--keep-delta {keep_delta:g}: tiene que ser mayor que 0 y como mucho 1 (1: todos los cambios)")
    if not 0 <= merge_pretrained <= 1:
        problems.append(f"--merge-pretrained {merge_pretrained:g}: tiene que estar entre 0 y 1")
    return problems


class SpanishHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks, says "uso:" and adds "(por defecto: X)" where useful."""

    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, prefix="uso: ")

    def _get_help_string(self, action):
        text = action.help or ""
        if ("por defecto" not in text and action.default not in (None, False, argparse.SUPPRESS)
                and action.option_strings and action.nargs != 0):
            text += " (por defecto: %(default)s)"
        return text


class SpanishParser(argparse.ArgumentParser):
    """ArgumentParser with Spanish help, section titles and error messages (exit code 2, no traceback)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", SpanishHelpFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "argumentos"
        self._optionals.title = "opciones"
        self.add_argument("-h", "--help", action="help", help="mostrar esta ayuda y salir")

    def error(self, message):
        for pattern, spanish in _ERRORS_ES:
            message, count = re.subn(f"^{pattern}$", spanish, message)
            if count:
                break
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")
