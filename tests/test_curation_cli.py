"""`curate run` / `curate inspect` from the command line, and the typed config with TOML + --set."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from curation.cli import main
from curation.config import ConfigError, CurateConfig, load_config, parse_override

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "curation" / "curate.example.toml"


OWN_SECTIONS = ("expand", "decode", "background", "filters", "dedup", "canvas", "split", "output")


def test_example_config_documents_every_default():
    loaded, default = load_config(EXAMPLE), CurateConfig()
    assert (loaded.domain, loaded.workers) == (default.domain, default.workers)
    text = EXAMPLE.read_text()
    for name in OWN_SECTIONS:  # native and sheets belong to the recovery stage; their keys only need to parse
        assert getattr(loaded, name) == getattr(default, name), name
        assert f"[{name}]" in text
        for f in dataclasses.fields(getattr(default, name)):
            assert f"\n{f.name} = " in text, f"{name}.{f.name} is not in the example"


def test_overrides_are_typed_and_checked(tmp_path):
    cfg = load_config(None, ["filters.min_size=12", "decode.frames=all", "filters.pixel_art_domains=A,B",
                             "dedup.enabled=false", "split.test_fraction=0.25", "filters.max_aspect=4", "domain=A"])
    assert cfg.filters.min_size == 12 and cfg.decode.frames == "all" and cfg.filters.pixel_art_domains == ("A", "B")
    assert cfg.dedup.enabled is False and cfg.split.test_fraction == 0.25 and cfg.filters.max_aspect == 4.0
    assert parse_override('background.rembg_model="u2netp"') == {"background": {"rembg_model": "u2netp"}}
    toml = tmp_path / "c.toml"
    toml.write_text("[canvas]\nsize = 128\n[filters]\nmin_size = 4\n")
    cfg = load_config(toml, ["filters.min_size=6"])
    assert cfg.canvas.size == 128 and cfg.filters.min_size == 6  # command line wins over the file
    for bad, message in [("filters.min_sise=3", "unknown config key 'filters.min_sise'"),
                         ("filters.min_size=big", "must be an integer"), ("decode.frames=some", "decode.frames"),
                         ("filters=3", "is a section"), ("nonsense", "section.key=value")]:
        with pytest.raises(ConfigError, match=message):
            load_config(None, [bad])
    assert load_config(None, ["split.test_fraction=0.5"]).image_key() == CurateConfig().image_key()
    assert load_config(None, ["filters.min_size=9"]).image_key() != CurateConfig().image_key()


def test_curate_run_and_inspect_from_the_command_line(tmp_path, pixel_files, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for f in pixel_files[:3]:
        (src / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "out"
    assert main(["run", "--input", str(src), "--output", str(out), "--workers", "1", "--no-progress",
                 "--set", "canvas.size=512"]) == 0
    printed = capsys.readouterr().out
    assert "stage" in printed and "kept" in printed and "dedup" in printed
    report = json.loads((out / "curation_report.json").read_text())
    assert report["config"]["canvas"]["size"] == 512 and report["counts"]["inputs"] == 3

    assert main(["inspect", str(pixel_files[0]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for key in ("scale", "phase", "native_size", "confidence"):
        assert key in info["native"]
    assert set(info["pixel_art"]) >= {"score", "components", "threshold"}
    assert info["background"]["kind"] == "alpha" and len(info["hashes"]["phash"]) == 16
    assert {v["name"] for v in info["filters"]} >= {"too-small", "extreme-aspect", "near-blank", "too-many-colors"}
    assert info["canvas"]["size"] == [256, 256] and info["verdict"]["kept"] is True

    assert main(["inspect", str(pixel_files[0])]) == 0
    assert "canvas 256x256" in capsys.readouterr().out

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert main(["inspect", str(bad), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == {"kept": False, "stage": "decode", "reason": "svg"}

    assert main(["run", "--input", str(src), "--output", str(out), "--set", "filters.nope=1"]) == 2
    assert "unknown config key" in capsys.readouterr().err


def test_help_explains_the_options():
    out = subprocess.run([sys.executable, "-m", "curation", "run", "--help"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0
    for word in ("--input", "--output", "--config", "--set", "--workers", "--domain", "cache.sqlite"):
        assert word in out.stdout


def test_inspect_into_a_closed_pipe_exits_quietly():
    """`curate inspect IMAGE | head -0`: the reader is gone before the first line; no traceback, 141."""
    image = ROOT / "tests" / "fixtures" / "art" / "pixel" / "synth-car-idle.png"
    proc = subprocess.Popen([sys.executable, "-m", "curation", "inspect", str(image)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # closed long before the child has imported anything, let alone printed
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err
