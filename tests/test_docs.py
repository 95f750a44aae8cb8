"""The generated reference pages list every CLI option and config key (docs/hooks/reference.py)."""

import argparse
import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hook():
    spec = importlib.util.spec_from_file_location("docs_reference_hook", REPO / "docs" / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO / "docs" / "hooks"))  # as MkDocs loads a hook: its folder on the path meanwhile
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "docs" / "hooks"))
    return module


def _all_options(parser: argparse.ArgumentParser) -> set[str]:
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _all_options(child)
        elif not isinstance(action, argparse._HelpAction):
            found |= set(action.option_strings) or {action.metavar or action.dest}
    return found


def test_cli_pages_list_every_option_of_every_subcommand(hook):
    from curation.cli import build_parser as curate_parser
    from inference.arguments import build_parser as pixelate_parser
    from training.cli import build_average_parser, build_export_parser, build_publish_parser
    from training.cli import build_parser as train_parser

    cases = [
        (hook.cli_curate(), [curate_parser()]),
        (hook.cli_train(), [train_parser(), build_export_parser(), build_publish_parser(), build_average_parser()]),
        (hook.cli_pixelate(), [pixelate_parser()]),
    ]
    for markdown, parsers in cases:
        for parser in parsers:
            missing = {o for o in _all_options(parser) if f"`{o}`" not in markdown}
            assert not missing, f"{parser.prog}: {sorted(missing)} not in the generated page"
    for command in ("curate run", "curate inspect", "curate card", "curate push", "train export", "train publish", "train average"):
        assert f"`{command}`" in cases[0][0] + cases[1][0]


def test_config_pages_list_every_key(hook):
    from curation.config import CurateConfig
    from training.config import TrainConfig

    page = hook.config_curate()
    root = CurateConfig()
    for f in dataclasses.fields(root):
        value = getattr(root, f.name)
        keys = [f"{f.name}.{g.name}" for g in dataclasses.fields(value)] if dataclasses.is_dataclass(value) else [f.name]
        for key in keys:
            assert f"`{key}`" in page, key
    page = hook.config_train()
    for f in dataclasses.fields(TrainConfig):
        assert f"`{f.name}`" in page, f.name


def test_unknown_marker_and_broken_import_fail_the_build(hook):
    from mkdocs.exceptions import PluginError

    class Page:
        class file:
            src_uri = "x.md"

    with pytest.raises(PluginError, match="no generator"):
        hook.on_page_markdown("<!-- generated: nope -->\n", Page, None, None)
    with pytest.raises(PluginError, match="cannot import"):
        hook.load("curation.no_such_module")
