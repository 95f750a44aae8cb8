"""Property tests (Hypothesis): whatever bytes a manifest or a config holds, the readers answer with
records, rejections or a ConfigError, never with another exception."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.config import CurateConfig, load_config
from curation.inputs import check_record, read_raw_store
from pixelforge.config import ConfigError, apply, parse_override
from pixelforge.rawstore import MANIFEST_FILE, Manifest, is_valid_record

# sized to keep this module at a few seconds: each manifest example writes a store to disk
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STORE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# any text, lone surrogates included (json.dumps escapes them; json.loads brings them back)
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)), max_leaves=12)
FIELDS = ("sha256", "path", "bytes", "content_type", "url", "page_url", "source", "title", "author", "license",
          "license_url", "tags", "fetched_at")
paths = st.one_of(st.sampled_from(["files/aa/a.png", "../x", "/etc/passwd", "files/\u0000.png", "a/../../b", "",
                                   "files/" + "x" * 300]), any_text)
records = st.fixed_dictionaries({}, optional={
    **{f: json_values for f in FIELDS},
    "sha256": st.one_of(st.sampled_from(["a" * 64, "b" * 64]), json_values),
    "path": st.one_of(paths, json_values),
})
lines = st.one_of(
    st.binary(max_size=120),
    records.map(lambda r: json.dumps(r).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
)


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> Path:
    """One raw store for every example (each rewrites its manifest): a folder per example is slow."""
    root = tmp_path_factory.mktemp("store")
    (root / "files" / "aa").mkdir(parents=True)
    (root / "files" / "aa" / "a.png").write_bytes(b"not really a png")
    return root


@STORE
@given(manifest_lines=st.lists(lines, max_size=8), trailing_newline=st.booleans())
def test_any_manifest_gives_records_or_rejections(store_root, manifest_lines, trailing_newline):
    root = store_root
    body = b"\n".join(line.replace(b"\n", b" ").replace(b"\r", b" ") for line in manifest_lines)
    (root / MANIFEST_FILE).write_bytes(body + (b"\n" if trailing_newline else b""))

    inputs = read_raw_store(root)  # never raises

    n_lines = sum(1 for line in body.splitlines() if line.strip())
    assert inputs.n_records == n_lines
    accepted = sum(len(f.records) for f in inputs.files)
    per_line = [r for r in inputs.rejected if r["reason"] not in ("missing-file", "not-a-file")]
    assert accepted + len(per_line) == n_lines  # every line is a record or a rejection, never both or none
    for f in inputs.files:
        assert f.path.resolve().is_relative_to(root.resolve())
        for rec in f.records:
            assert check_record(rec) is None
    for rej in inputs.rejected:
        assert isinstance(rej["reason"], str) and isinstance(rej["detail"], str) and rej["detail"]
    json.dumps(inputs.rejected, ensure_ascii=False).encode("utf-8")  # the report can always be written

    loaded = Manifest(root / MANIFEST_FILE).load()  # the crawler's reader: never raises either
    assert all(is_valid_record(rec) for rec in loaded)


# ---- configs -------------------------------------------------------------------------------------------


def _keys(obj: object, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out += _keys(value, f"{prefix}{f.name}.")
        else:
            out.append(prefix + f.name)
    return out


KEYS = _keys(CurateConfig())
toml_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans(), any_text, st.datetimes(), st.dates(),
    st.times(), st.lists(st.one_of(st.integers(), any_text, st.booleans()), max_size=3),
    st.dictionaries(any_text, st.integers(), max_size=2),
)


def _nest(dotted: str, value: object) -> dict:
    out: dict = {}
    node = out
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return out


def _check(config: object) -> None:
    assert isinstance(config, CurateConfig)
    config.validate()
    json.dumps(config.to_dict())
    assert len(config.image_key()) == 16


@FAST
@given(st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), any_text), toml_values), max_size=4))
def test_any_values_give_a_config_or_a_config_error(pairs):
    config = CurateConfig()
    try:
        for key, value in pairs:
            config = apply(config, _nest(key, value) if key else {key: value})
        _check(config.validate())
    except ConfigError as exc:
        assert str(exc)


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return json.dumps(value)


@FAST
@given(st.lists(st.one_of(
    any_text,
    st.tuples(st.sampled_from(KEYS), toml_values).map(lambda kv: f"{kv[0]}={_literal(kv[1])}"),
    st.tuples(st.sampled_from(KEYS), any_text).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.integers(1, 2000).map(lambda n: "decode.frames=" + "[" * n),
), max_size=4))
def test_any_override_gives_a_config_or_a_config_error(overrides):
    for text in overrides:
        try:
            parse_override(text)
        except ConfigError:
            pass
    try:
        _check(load_config(None, overrides))
    except ConfigError as exc:
        assert str(exc)


@FAST
@given(st.one_of(
    st.binary(max_size=200),
    st.lists(st.tuples(st.sampled_from(KEYS), toml_values), max_size=4).map(
        lambda kvs: "\n".join(f"[{k.split('.')[0]}]\n{k.split('.')[1]} = {_literal(v)}" if "." in k
                              else f"{k} = {_literal(v)}" for k, v in kvs).encode("utf-8", "surrogatepass")),
    st.integers(1, 3000).map(lambda n: b"x = " + b"[" * n),
))
def test_any_toml_file_gives_a_config_or_a_config_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "curate.toml"
        path.write_bytes(data)
        try:
            _check(load_config(path))
        except ConfigError as exc:
            assert str(exc)
