"""`pixelate` inputs and command line: files, folders, URLs, bad input, resume, summary."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from inference.cli import main
from inference.grid import cell_purity
from inference.inputs import InputError, collect_inputs, fetch_url
from inference.shipped import DEFAULT_METHOD, SHIPPED_NAME
from pixelforge.imaging import count_colors
from pixelforge.testing.http_server import Response


def png(size=(40, 30), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- URLs


def test_fetch_url_reads_an_image(http_server):
    (http_server.root / "a.png").write_bytes(png())
    got = fetch_url(http_server.url + "/a.png")
    assert got.content_type == "image/png" and got.data == png()


def test_fetch_url_failures_have_reasons(http_server):
    (http_server.root / "page.html").write_text("<html><body>hello</body></html>")
    cases = [
        ("/__status/404", "http-404"),
        ("/__status/500", "http-500"),
        ("/page.html", "not-an-image"),
        ("/__empty.png", "empty"),
        ("/__loop/0", "redirect-loop"),
        ("/__truncated.png", "download-failed"),
    ]
    for path, reason in cases:
        with pytest.raises(InputError) as err:
            fetch_url(http_server.url + path)
        assert err.value.reason == reason, path


def test_fetch_url_timeout_and_size_limit(http_server):
    with pytest.raises(InputError) as err:
        fetch_url(http_server.url + "/__slow/2", timeout=0.3)
    assert err.value.reason == "timeout"
    (http_server.root / "big.png").write_bytes(png((300, 300)))
    with pytest.raises(InputError) as err:
        fetch_url(http_server.url + "/big.png", max_bytes=10_000)
    assert err.value.reason == "too-large" and "announces" in str(err.value)
    # a server that does not announce its length is cut off while streaming
    # a server that does not announce a usable length is cut off while streaming
    body = png((300, 300))
    http_server.route("/unannounced.png", lambda h: Response(200, body, {"Content-Length": "unknown"}, "image/png"))
    with pytest.raises(InputError) as err:
        fetch_url(http_server.url + "/unannounced.png", max_bytes=len(body) // 2)
    assert err.value.reason in ("too-large", "download-failed")


# --------------------------------------------------------------------------- collecting inputs


def test_collect_inputs_walks_folders_and_keeps_names_unique(tmp_path):
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(png())
    (tmp_path / "a" / "sub" / "y.jpg").write_bytes(png())
    (tmp_path / "a" / ".hidden").mkdir()
    (tmp_path / "a" / ".hidden" / "z.png").write_bytes(png())
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "b" / "x.png").write_bytes(png())
    (tmp_path / "empty").mkdir()
    items, failures = collect_inputs(
        [str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "empty"), str(tmp_path / "missing.png")]
    )
    assert [i.name.as_posix() for i in items] == ["sub/y.jpg", "x.png", "x-2.png"]
    assert [e.reason for _, e in failures] == ["empty-folder", "not-found"]


# --------------------------------------------------------------------------- the command


def test_cli_pixelates_a_folder_reports_failures_and_resumes(tmp_path, capsys, cartoon_files):
    src = tmp_path / "in"
    (src / "nested").mkdir(parents=True)
    for f in cartoon_files[:3]:
        shutil.copy(f, src / f.name)
    (src / "nested" / "photo.jpg").write_bytes(png((61, 45)))
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (src / "empty.png").write_bytes(b"")
    bomb = src / "huge.png"
    Image.new("RGB", (3000, 3000), (1, 2, 3)).save(bomb)
    out = tmp_path / "out"
    rc = main([str(src), str(tmp_path / "nope.png"), "-o", str(out), "--max-pixels", "4000000", "-q"])
    err = capsys.readouterr().err
    assert rc == 1
    said = "classical method (no ML)" if DEFAULT_METHOD == "classic" else f"from the shipped model {SHIPPED_NAME}"
    assert err.count(said) == 1  # the method that ran is said once, not once per picture
    assert "5 written" not in err and "4 written" in err and "4 failed" in err
    for name, reason in [("broken.png", "unreadable"), ("empty.png", "empty"), ("huge.png", "too-large"), ("nope.png", "not-found")]:
        assert any(name in line and reason in line for line in err.splitlines()), (name, err)
    jpg_out = out / "nested" / "photo.png"
    assert jpg_out.is_file() and not (out / "nested" / "photo.jpg").exists()
    result = Image.open(jpg_out)
    assert result.size == (61, 45) and cell_purity(result, 4) == 1.0 and count_colors(result) <= 16
    for f in cartoon_files[:3]:
        img = Image.open(out / f.name)
        assert img.size == Image.open(f).size and img.mode == "RGBA"
    assert not list(out.rglob("*.part"))
    # a second run skips what is there (an interrupted run resumes), and --overwrite redoes it
    before = jpg_out.stat().st_mtime_ns
    rc = main([str(src / "nested"), "-o", str(out / "nested"), "-q"])
    assert rc == 0 and "0 written, 1 skipped" in capsys.readouterr().err
    assert jpg_out.stat().st_mtime_ns == before
    rc = main([str(src / "nested"), "-o", str(out / "nested"), "-q", "--overwrite", "--palette", "gameboy", "--preview"])
    assert rc == 0 and count_colors(Image.open(jpg_out)) <= 4
    page = (out / "nested" / "index.html").read_text()
    assert "src='photo.png'" in page and "src='../../in/nested/photo.jpg'" in page


def test_cli_output_inside_the_input_folder_is_not_read_back(tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(png())
    assert main([str(tmp_path), "-o", str(tmp_path / "px"), "-q"]) == 0
    assert main([str(tmp_path), "-o", str(tmp_path / "px"), "-q"]) == 0
    assert "0 written, 1 skipped" in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "px" / "px").exists()


def test_cli_single_file_native_and_options(tmp_path, capsys):
    src = tmp_path / "p.png"
    src.write_bytes(png((50, 30)))
    out = tmp_path / "p_px.png"
    assert main([str(src), "-o", str(out), "--native", "--cell-size", "5", "--palette", "pico8", "--dither", "floyd"]) == 0
    assert Image.open(out).size == (10, 6)
    assert main([str(src), "-o", str(tmp_path / "p.jpg")]) == 2
    assert "never JPEG" in capsys.readouterr().err
    assert main([str(src), "-o", str(tmp_path / "x"), "--palette", "nope"]) == 2
    assert main([str(src), "-o", str(tmp_path / "x"), "--ngf", "8"]) == 2


def test_cli_urls(http_server, tmp_path, capsys):
    (http_server.root / "good.png").write_bytes(png((32, 32)))
    (http_server.root / "page.html").write_text("<html></html>")
    urls = [f"{http_server.url}/good.png", f"{http_server.url}/page.html", f"{http_server.url}/__html-as-png.png"]
    rc = main([*urls, "-o", str(tmp_path / "out"), "-q", "--timeout", "5"])
    err = capsys.readouterr().err
    assert rc == 1
    assert (tmp_path / "out" / "good.png").is_file()
    assert "not-an-image" in err and "__html-as-png.png: unreadable" in err
    assert "1 written" in err and "2 failed" in err


def test_cli_help_explains():
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
