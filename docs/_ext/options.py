"""``.. chatsvc-options::``: the option reference, generated from ``tap.Options``.

The reference is made from the options class ``twistd chat`` itself parses
(its C{optParameters}, C{optFlags} and C{opt_*} methods, with their help
strings and defaults) and from the C{--config} keys
L{chatsvc.service.config.config_keys} derives from it, so an option added,
renamed or re-described there is documented by the next build, and a
hand-written table cannot drift from the code.

The generator (L{option_entries}, L{reference_rst}) needs no Sphinx, so the
test suite checks it against C{Options} without the docs extra installed;
only L{setup} touches Sphinx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from twisted.python import usage

from chatsvc.service.config import config_keys

#: Options that belong to the command line alone: no config key.
_COMMAND_LINE_ONLY = frozenset({"config"})
#: usage.Options' own, documented by --help itself.
_SKIPPED = frozenset({"help", "version"})


@dataclass(frozen=True)
class OptionEntry:
    """One option as the reference shows it."""

    name: str  # the long name, without dashes
    short: str | None  # its one-letter synonym, if any
    takes_value: bool
    repeatable: bool
    default: str | None
    help: str
    config_key: str | None  # the --config TOML key, None for command-line-only options


def option_entries(options: usage.Options) -> list[OptionEntry]:
    """Every option of C{options} (an instance), in --help's order."""
    keys = config_keys(options)
    shorts = {long: short for short, long in options.synonyms.items()
              if len(short) == 1 and short != long}
    entries = []
    for spelling in options.longOpt:
        name = spelling.rstrip("=")
        if name in _SKIPPED or options.synonyms.get(name, name) != name:
            continue
        key = keys.get(name)
        if key is None and name not in _COMMAND_LINE_ONLY:
            raise ValueError(f"--{name} has no --config key and is not command-line only")
        entries.append(OptionEntry(
            name=name,
            short=shorts.get(name),
            takes_value=spelling.endswith("="),
            repeatable=bool(key and key.repeatable),
            default=options.defaults.get(name),
            help=" ".join((options.docs.get(name) or "").split()),
            config_key=key.name if key else None,
        ))
    return entries


def _escape(text: str) -> str:
    """C{text} as reStructuredText that shows it literally (help strings are plain text).

    Markup characters are escaped, and so is a colon inside a word, or
    C{tcp:12345:interface=127.0.0.1} would become a link.
    """
    return re.sub(r"([\\*`|_]|:(?=\S))", r"\\\1", text)


def _toml_value(entry: OptionEntry) -> str:
    if not entry.takes_value:
        return "true"
    value = entry.default if entry.default is not None else "VALUE"
    if entry.repeatable:
        return f'["{value}"]'
    if value.isdigit():
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reference_rst(options: usage.Options, program: str = "twistd chat") -> str:
    """The reference as reStructuredText: a ``.. program::`` and one ``.. option::`` each."""
    lines = [f".. program:: {program}", ""]
    for entry in option_entries(options):
        value = " " + entry.name.upper().replace("-", "_") if entry.takes_value else ""
        forms = [f"--{entry.name}{value}"]
        if entry.short:
            forms.insert(0, f"-{entry.short}{value}")
        lines += [f".. option:: {', '.join(forms)}", ""]
        lines += ["   " + (_escape(entry.help) or "(undocumented)"), ""]
        facts = []
        if entry.takes_value:
            if entry.default is not None:
                facts.append(f"Default: ``{entry.default}``.")
            else:
                facts.append("No default.")
        if entry.repeatable:
            facts.append("Repeatable: each use adds one; the command line's replace "
                         "the file's list.")
        if entry.config_key is None:
            facts.append("Command line only.")
        else:
            facts.append(f"In a ``--config`` file: ``{entry.config_key} = "
                         f"{_toml_value(entry)}``.")
        lines += ["   " + " ".join(facts), ""]
    return "\n".join(lines)


def setup(app: Any) -> dict[str, Any]:
    """Register the ``chatsvc-options`` directive with Sphinx."""
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective
    from sphinx.util.nodes import nested_parse_with_titles

    class ChatOptions(SphinxDirective):
        """``.. chatsvc-options::``: every option of ``twistd chat``, from the code."""

        has_content = False

        def run(self) -> list[nodes.Node]:
            from chatsvc.service import config, tap

            # Rebuild the pages that use it when the options' source changes.
            for module in (tap, config):
                self.env.note_dependency(module.__file__)
            source = reference_rst(tap.Options())
            container = nodes.section()
            container.document = self.state.document
            nested_parse_with_titles(
                self.state, StringList(source.splitlines(), source="tap.Options"), container)
            return list(container.children)

    app.add_directive("chatsvc-options", ChatOptions)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
