"""``--config FILE``: the command-line options, read from a TOML file.

The file's keys are not a second list to keep in step with the options: they
are derived from the C{usage.Options} class itself.  Every long option is a
key of the same spelling (C{--max-line} is C{max-line = 4096}), so an option
added to C{optParameters}, C{optFlags} or as an C{opt_*} method is settable
from the file with no code here.  The file is turned into command-line
arguments placed before the real ones, so the options' own parsing and
validation apply unchanged and the command line wins::

    port = "tcp:6667:interface=127.0.0.1"   # optParameters: string or number
    verbose = true                          # optFlags: boolean
    oper = ["alice", "bob"]                 # opt_oper(value): repeatable

Unknown keys and wrong types end start-up with one line naming the key and
the file.
"""

from __future__ import annotations

import difflib
import getopt
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from twisted.python import usage

# Options that are about the command line itself, never configuration.
_NOT_CONFIG = frozenset({"config", "help", "version"})


@dataclass(frozen=True)
class ConfigKey:
    """One key the file may set, and what kind of option it feeds."""

    name: str
    takes_value: bool  # a parameter or an opt_ method taking an argument
    repeatable: bool  # an opt_ method taking an argument: a list is allowed


class ConfigError(usage.UsageError):
    """The file cannot be used; C{str()} names the file (and key) and why."""


def config_keys(options: usage.Options) -> dict[str, ConfigKey]:
    """Every key a config file may set for C{options}, from its long options."""
    keys: dict[str, ConfigKey] = {}
    for spelling in options.longOpt:
        name = spelling.rstrip("=")
        # Aliases of one opt_ method map to its longest name: key that only.
        if name in _NOT_CONFIG or options.synonyms.get(name, name) != name:
            continue
        takes_value = spelling.endswith("=")
        repeatable = takes_value and hasattr(options, "opt_" + name.replace("-", "_"))
        keys[name] = ConfigKey(name, takes_value, repeatable)
    return keys


def read_config(path: str) -> dict[str, Any]:
    """Parse the TOML file at C{path}; errors are one-line L{ConfigError}s."""
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"--config {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _scalar(path: str, key: str, value: object, expected: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{path}: {key} must be {expected}, not {_kind(value)}")


def config_arguments(
    options: usage.Options, table: dict[str, Any], path: str, skip: frozenset[str] = frozenset()
) -> list[str]:
    """The command-line arguments equivalent to C{table}, read from C{path}.

    Keys in C{skip} (given on the command line) are left out so that the
    command line overrides the file, for repeatable options too.
    """
    keys = config_keys(options)
    arguments: list[str] = []
    for key, value in table.items():
        spec = keys.get(key)
        if spec is None:
            close = difflib.get_close_matches(key.replace("_", "-"), keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: unknown key {key!r}{hint}")
        if not spec.takes_value:
            if not isinstance(value, bool):
                raise ConfigError(f"{path}: {key} must be true or false, not {_kind(value)}")
            if value and key not in skip:
                arguments.append(f"--{key}")
        elif spec.repeatable:
            items = value if isinstance(value, list) else [value]
            expected = "a string, a number or a list of them"
            values = [_scalar(path, key, item, expected) for item in items]
            if key not in skip:
                arguments.extend(f"--{key}={item}" for item in values)
        else:
            item = _scalar(path, key, value, "a string or a number")
            if key not in skip:
                arguments.append(f"--{key}={item}")
    return arguments


def _given_on_command_line(options: usage.Options, argv: list[str]) -> tuple[set[str], str | None]:
    """The long names of the options in C{argv}, and its C{--config} value."""
    try:
        pairs, _ = getopt.getopt(argv, options.shortOpt, options.longOpt)
    except getopt.GetoptError as error:
        raise usage.UsageError(str(error)) from None
    given: set[str] = set()
    config = None
    for flag, value in pairs:
        name = flag.lstrip("-")
        name = options.synonyms.get(name, options.synonyms.get(name.replace("-", "_"), name))
        given.add(name)
        if name == "config":
            config = value
    return given, config


def _mentions(message: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", message) is not None


class ConfigFileMixin:
    """Give a C{usage.Options} subclass a C{--config FILE} option.

    Mix in before C{usage.Options}.  Errors from the options' own validation
    that name an option set by the file say so, so the operator knows where
    to look.
    """

    optParameters = [
        ["config", None, None,
         "TOML file of options: each key is a long option name "
         "(max-line = 4096); the command line overrides it."],
    ]

    def parseOptions(self, options: list[str] | None = None) -> None:
        import sys

        argv = list(sys.argv[1:] if options is None else options)
        given, path = _given_on_command_line(self, argv)  # type: ignore[arg-type]
        from_file: list[str] = []
        if path is not None:
            table = read_config(path)
            from_file = config_arguments(self, table, path, frozenset(given))  # type: ignore[arg-type]
        try:
            super().parseOptions(from_file + argv)  # type: ignore[misc]
        except ConfigError:
            raise
        except usage.UsageError as error:
            message = str(error)
            named = {argument.split("=", 1)[0] for argument in from_file}
            if any(_mentions(message, option) for option in named):
                message = f"{message} (set in {path})"
            raise usage.UsageError(message) from None
