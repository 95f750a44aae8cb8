"""MkDocs hook: the reference tables are generated from the code at build time, never copied.

A page asks for a table with a marker on a line of its own::

    <!-- generated: cli-curate -->

and this hook replaces it with Markdown built from the live objects:

* ``cli-curate``, ``cli-train``, ``cli-pixelate``: every option of the argparse parsers
  (``curation.cli.build_parser()`` with its ``run``/``inspect``/``card``/``push`` subcommands,
  ``training.cli.build_parser()``, ``build_export_parser()`` (``train export``) and ``build_publish_parser()``
  (``train publish``), ``build_average_parser()`` (``train average``), ``inference.arguments.build_parser()``);
* ``config-curate``, ``config-train``: every key of ``curation.config.CurateConfig`` and
  ``training.config.TrainConfig`` with its type, default and the comment next to the field;
* ``settings-crawler``: every setting in ``crawler/settings.py`` with its value and comment.

Only those modules are imported. A module that cannot be imported, or a marker that names no
generator, stops the build with an error (``mkdocs build --strict`` and ``make docs`` fail).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import io
import logging
import re
import sys
import tokenize
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

# this folder's modules: MkDocs puts a hook's folder on sys.path while it loads the hook
from reference_cli import parser_markdown
from reference_text import cell, code, default_cell, prose

log = logging.getLogger("mkdocs.hooks.reference")

MARKER = re.compile(r"^<!--\s*generated:\s*(?P<name>[\w-]+)\s*-->[ \t]*$", re.MULTILINE)


# --------------------------------------------------------------------------- mkdocs events


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Import the packages of this checkout, not whatever copy the environment has installed."""
    root = str(Path(config.config_file_path).resolve().parent)
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    return config


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        generator = GENERATORS.get(name)
        if generator is None:
            raise PluginError(f"{page.file.src_uri}: no generator named {name!r} (known: {', '.join(sorted(GENERATORS))})")
        return generator().strip() + "\n"

    return MARKER.sub(replace, markdown)


# --------------------------------------------------------------------------- helpers


def load(module: str, attr: str | None = None) -> Any:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # any import failure must fail the build, with its cause
        raise PluginError(f"reference: cannot import {module}: {type(exc).__name__}: {exc}") from exc
    if attr is None:
        return mod
    try:
        return getattr(mod, attr)
    except AttributeError as exc:
        raise PluginError(f"reference: {module} has no {attr}") from exc


def field_comments(cls: type) -> tuple[dict[str, str], dict[str, str]]:
    """For a dataclass: ``name -> comment after the field`` and ``name -> comment lines just above it``."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}, {}
    names = {f.name for f in dataclasses.fields(cls)}
    trailing: dict[str, str] = {}
    above: dict[str, str] = {}
    pending: list[str] = []
    for line in source.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and match.group(1) in names:
            if comment := _trailing_comment(line):
                trailing[match.group(1)] = comment
            if pending:
                above[match.group(1)] = " ".join(pending)
        pending = []
    return trailing, above


def _trailing_comment(line: str) -> str:
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
            if tok.type == tokenize.COMMENT:
                return tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return ""
    return ""


def type_name(field: dataclasses.Field) -> str:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    return kind.replace("typing.", "")


def cli_curate() -> str:
    return parser_markdown(load("curation.cli", "build_parser")(), 2, heading=False)


def cli_train() -> str:
    defaults = dataclasses.asdict(load("training.config", "TrainConfig")())
    return "\n\n".join([
        parser_markdown(load("training.cli", "build_parser")(), 2, defaults=defaults),
        parser_markdown(load("training.cli", "build_export_parser")(), 2),
        parser_markdown(load("training.cli", "build_publish_parser")(), 2),
        parser_markdown(load("training.cli", "build_average_parser")(), 2),
    ])


def cli_pixelate() -> str:
    return parser_markdown(load("inference.arguments", "build_parser")(), 2, heading=False)


# --------------------------------------------------------------------------- dataclasses -> Markdown


def _example_toml_comments(path: Path) -> dict[str, str]:
    """``section.key -> comment`` from the commented example config (used where a field has no comment)."""
    comments: dict[str, str] = {}
    section = ""
    for line in path.read_text().splitlines():
        header = re.match(r"\s*\[([\w.]+)\]", line)
        if header:
            section = header.group(1) + "."
            continue
        match = re.match(r"\s*(\w+)\s*=.*?#\s*(.+)$", line)
        if match:
            comments[section + match.group(1)] = match.group(2).strip()
    return comments


def _toml_keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in data.items():
        keys |= _toml_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return keys


def config_curate() -> str:
    config_cls = load("curation.config", "CurateConfig")
    example = Path(load("curation.config").__file__).with_name("curate.example.toml")
    example_comments = _example_toml_comments(example) if example.is_file() else {}
    root = config_cls()
    documented: set[str] = set()

    def table(obj: Any, prefix: str) -> list[str]:
        trailing, above = field_comments(type(obj))
        rows = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
        for f in dataclasses.fields(obj):
            if dataclasses.is_dataclass(getattr(obj, f.name)):
                continue
            key = prefix + f.name
            documented.add(key)
            text = trailing.get(f.name) or example_comments.get(key) or above.get(f.name, "")
            rows.append(f"| {code(key)} | {code(type_name(f))} | {default_cell(getattr(obj, f.name))} | {cell(text)} |")
        return rows

    out = ["## Top level", ""] + table(root, "") + [""]
    for f in dataclasses.fields(root):
        obj = getattr(root, f.name)
        if not dataclasses.is_dataclass(obj):
            continue
        cls = type(obj)
        doc = inspect.getdoc(cls) or ""
        out += [f"## `[{f.name}]`", ""]
        if doc and not doc.startswith(cls.__name__ + "("):  # not dataclass's generated signature
            out += [prose(doc), ""]
        out += [f"Defined by `{cls.__module__}.{cls.__qualname__}`.", ""]
        out += table(obj, f.name + ".") + [""]
    if example.is_file():
        listed = _toml_keys(tomllib.loads(example.read_text()))
        if listed != documented:
            log.warning("%s is out of step with CurateConfig: missing %s, unknown %s",
                        example.name, sorted(documented - listed), sorted(listed - documented))
    return "\n".join(out)


def config_train() -> str:
    config_cls = load("training.config", "TrainConfig")
    parser = load("training.cli", "build_parser")()
    options = {a.dest: a for a in parser._actions if a.option_strings}
    trailing, above = field_comments(config_cls)
    defaults = config_cls()
    out: list[str] = []
    header = ["| key | command line | type | default | description |", "| --- | --- | --- | --- | --- |"]
    for f in dataclasses.fields(config_cls):
        if f.name in above or not out:  # a one-line comment above a field opens a group: "# recipe"
            title = above.get(f.name, "options")
            out += ["", f"## {title[0].upper()}{title[1:]}", ""] + header
        action = options.get(f.name)
        if isinstance(action, argparse.BooleanOptionalAction):
            flag = " / ".join(code(o) for o in action.option_strings)
        elif action is not None:
            flag = ", ".join(code(o) for o in action.option_strings)
        else:
            flag = "(TOML only)"
        text = trailing.get(f.name) or (action.help if action is not None and action.help else "")
        out.append(
            f"| {code(f.name)} | {flag} | {code(type_name(f))} | {default_cell(getattr(defaults, f.name))} | {cell(text)} |"
        )
    return "\n".join(out).strip()


# --------------------------------------------------------------------------- crawler settings -> Markdown


def settings_crawler() -> str:
    """``crawler/settings.py`` section by section: ``# -- title: text`` comments open a section,
    ``#:`` comments describe the next setting; values come from the imported module."""
    settings = load("crawler.settings")
    scrapy_defaults = load("scrapy.settings.default_settings")
    sections: list[dict[str, Any]] = [{"title": "General", "text": "", "names": []}]
    doc: list[str] = []
    previous_was_header = False
    for line in Path(settings.__file__).read_text().splitlines():
        if line.startswith("# --"):
            text = re.sub(r"-{3,}\s*$", "", line[4:]).strip()
            if previous_was_header:
                sections[-1]["text"] += " " + text
            else:
                title, _, rest = text.partition(": ")
                sections.append({"title": title, "text": rest, "names": []})
            previous_was_header = True
            doc = []
            continue
        previous_was_header = False
        if line.startswith("#:"):
            doc.append(line[2:].strip())
            continue
        match = re.match(r"([A-Z][A-Z0-9_]*)\s*=", line)
        if match:
            sections[-1]["names"].append((match.group(1), " ".join(doc)))
        if not line.startswith("#"):
            doc = []
    out = []
    for section in sections:
        if not section["names"]:
            continue
        title = section["title"]
        out += [f"### {prose(title[0].upper() + title[1:])}", ""]
        if section["text"]:
            out += [prose(section["text"][0].upper() + section["text"][1:]), ""]
        out += ["| setting | value | Scrapy's default | description |", "| --- | --- | --- | --- |"]
        for name, text in section["names"]:
            value = getattr(settings, name)
            if hasattr(scrapy_defaults, name):
                stock = getattr(scrapy_defaults, name)
                stock_text = "same" if stock == value else _setting_value(stock)
            else:
                stock_text = "(not a Scrapy setting)"
            out.append(f"| {code(name)} | {_setting_value(value)} | {stock_text} | {cell(text)} |")
        out.append("")
    return "\n".join(out)


def _setting_value(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return code("{}")
        return "<br>".join(code(f"{k}: {v}") for k, v in value.items())
    return code(repr(value))


GENERATORS: dict[str, Callable[[], str]] = {
    "cli-curate": cli_curate,
    "cli-train": cli_train,
    "cli-pixelate": cli_pixelate,
    "config-curate": config_curate,
    "config-train": config_train,
    "settings-crawler": settings_crawler,
}
