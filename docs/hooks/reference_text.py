"""Text for the generated reference tables: Markdown escaping, code spans, TOML-written defaults
(used by ``reference.py`` and ``reference_cli.py``, MkDocs hooks loaded from this folder)."""

from __future__ import annotations

import re
from typing import Any


def prose(text: object, *, in_table: bool = False) -> str:
    """Help text as Markdown: `code spans` kept, ``<``, ``>``, ``&`` and ``*`` outside them escaped
    (and ``|`` too inside a table cell; a pipe within a code span does not split a cell)."""
    parts = re.split(r"(`[^`]*`)", str(text))
    for i in range(0, len(parts), 2):
        part = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")
        parts[i] = part.replace("|", "\\|") if in_table else part
    return "".join(parts)


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return prose(" ".join(str(text).split()), in_table=True)


def code(text: object) -> str:
    text = str(text)
    if not text:
        return ""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"  # a pipe inside a code span does not split a table cell


def default_cell(value: Any) -> str:
    """A config default for a table cell: TOML syntax in a code span, or *none*."""
    return "*none*" if value is None else code(toml_value(value))


def toml_value(value: Any) -> str:
    """A default as it would be written in a TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)
