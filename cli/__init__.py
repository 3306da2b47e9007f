"""Spanish command lines: the one argparse set-up every command of the project uses.

argparse writes its usage prefix, section titles, defaults and errors in English; our users read
Spanish, so those are translated here once instead of in each command. Option sets written as
dataclasses (comun.Config) become command lines here: each field's default and help live in the field.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import typing

# argparse's own messages that a user can trigger, in Spanish.
_ERRORS_ES = [
    (r"the following arguments are required: (.*)", r"falta la opción obligatoria \1"),
    (r"argument (\S+): invalid (int|float) value: (.*)", r"\1: se esperaba un número, no \3"),
    (r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)", r"\1: opción inválida \2 (elegí entre \3)"),
    (r"argument (\S+): expected one argument", r"\1: falta el valor"),
    (r"argument (\S+): (.*)", r"\1: \2"),
    (r"unrecognized arguments: (.*)", r"opciones desconocidas: \1"),
]


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


def option(default, help: str):
    """A dataclass field whose command-line help sits beside its default (read by `add_options`)."""
    return dataclasses.field(default=default, metadata={"help": help})


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser, options: type) -> None:
    """One `--field-name` per field of the dataclass `options`, with its default and help; values stay text
    until `read_options` converts them, so that every bad one is reported at once."""
    defaults = options()
    for f in dataclasses.fields(options):
        parser.add_argument(flag(f.name), dest=f.name, default=getattr(defaults, f.name), metavar=f.name.upper(),
                            help=f.metadata["help"])


def read_options(options: type, args: argparse.Namespace):
    """(an `options` instance, problems in Spanish): each value converted to its field's type; one that does
    not convert is reported and keeps its default."""
    values, problems = {}, []
    hints = typing.get_type_hints(options)
    for f in dataclasses.fields(options):
        raw, kind = getattr(args, f.name), hints[f.name]
        try:
            values[f.name] = kind(raw)
        except (TypeError, ValueError):
            kind_name = {int: "un entero", float: "un número"}.get(kind, kind.__name__)
            problems.append(f"{flag(f.name)}: se esperaba {kind_name}, no {raw!r}")
    return options(**values), problems
