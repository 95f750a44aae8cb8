"""An argparse parser as Markdown: heading, description, usage, one table per argument group, epilog, then
its subcommands (for ``reference.py``'s ``cli-*`` tables; every option comes from the live parser)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reference_text import cell, code, prose, toml_value

USAGE_WIDTH = 80


def option_names(action: argparse.Action) -> str:
    if not action.option_strings:
        return code(action.metavar or action.dest)
    return ", ".join(code(s) for s in action.option_strings)


def option_value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None:
        text = " \\| ".join(code(c) for c in action.choices)
    elif not action.option_strings:
        text = ""  # a positional: its name is in the first column
    else:
        text = code(action.metavar or action.dest.upper())
    if action.nargs in ("+", "*"):
        text = (text + " " if text else "") + ("one or more" if action.nargs == "+" else "any number")
    return text


def option_default(action: argparse.Action, defaults: dict[str, Any]) -> str:
    value = action.default
    if value in (None, argparse.SUPPRESS) or (action.nargs == 0 and value is False):
        value = defaults.get(action.dest)
        if value is None:
            return ""
        return code(value if isinstance(value, str) else toml_value(value))
    if isinstance(value, Path):
        value = str(value)
    return code(value if isinstance(value, str) else repr(value))


def help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    try:
        text = parser._get_formatter()._expand_help(action)
    except (KeyError, TypeError, ValueError):
        text = action.help
    text = cell(text)
    if action.required and action.option_strings:
        text += " **(required)**"
    if isinstance(action, argparse._AppendAction) and "repeatable" not in text:
        text += " (repeatable)"
    return text


def usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return formatter.format_help().strip()


def parser_markdown(
    parser: argparse.ArgumentParser,
    level: int,
    *,
    heading: bool = True,
    summary: str = "",
    defaults: dict[str, Any] | None = None,
) -> str:
    """One command: heading, description, usage, a table per argument group, epilog; then its subcommands."""
    defaults = defaults or {}
    out = [f"{'#' * level} `{parser.prog}`", ""] if heading else []
    if summary:
        out += [f"*{cell(summary)}*", ""]
    if parser.description:
        out += [prose(parser.description.strip()), ""]
    out += ["```text", usage(parser), "```", ""]
    subparsers: list[argparse._SubParsersAction] = []
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if not isinstance(a, argparse._HelpAction)]
        subparsers += [a for a in actions if isinstance(a, argparse._SubParsersAction)]
        actions = [a for a in actions if not isinstance(a, argparse._SubParsersAction)]
        if not actions:
            continue
        title = group.title or "options"
        title = {"positional arguments": "arguments", "optional arguments": "options"}.get(title, title)
        group_level = level + 1 if heading else level
        out += [f"{'#' * group_level} {prose(title[0].upper() + title[1:])}", ""]
        if group.description:
            out += [prose(group.description), ""]
        out += ["| option | value | default | description |", "| --- | --- | --- | --- |"]
        for action in actions:
            out.append(
                f"| {option_names(action)} | {option_value(action)} | {option_default(action, defaults)} "
                f"| {help_text(parser, action)} |"
            )
        out.append("")
    if parser.epilog:
        out += ["```text", parser.epilog.strip("\n"), "```", ""]
    for sub in subparsers:
        helps = {choice.dest: choice.help for choice in sub._choices_actions}
        out += ["| command | what it does |", "| --- | --- |"]
        out += [f"| [`{child.prog}`](#{child.prog.replace(' ', '-')}) | {cell(helps.get(name) or '')} |"
                for name, child in sub.choices.items()]
        out.append("")
        for name, child in sub.choices.items():
            out.append(parser_markdown(child, level, summary=helps.get(name) or ""))
    return "\n".join(out)
