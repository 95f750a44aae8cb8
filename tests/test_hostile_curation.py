"""`curate` against hostile and unlucky inputs: nothing lost, memory and time bounded, a clear error every time.

Each test names the defect it guards (issue 14) and fails on the code before its fix.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import os
import subprocess
import threading
import tracemalloc
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation import pipeline, workers
from curation.cli import main as curate
from curation.config import CurateConfig, ExpandConfig, load_config
from curation.errors import CurateError
from curation.stages.expand import expand
from pixelforge.testing.sprites import make_sprite

ROOT = Path(__file__).resolve().parents[1]


def sprite(seed: int, size: tuple[int, int] = (16, 16)) -> bytes:
    buf = io.BytesIO()
    make_sprite(seed, size).on_white().save(buf, format="PNG")
    return buf.getvalue()


def config(*extra: str) -> CurateConfig:
    return load_config(None, ["workers=1", "output.html_report=false", *extra])


def store_with(root: Path, lines: list[bytes], files: dict[str, bytes] | None = None) -> Path:
    """A raw store whose manifest is exactly ``lines`` (bytes, so they can be anything)."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "manifest.jsonl").write_bytes(b"".join(lines))
    return root


def record(data: bytes, **fields: object) -> tuple[str, dict]:
    sha = hashlib.sha256(data).hexdigest()
    rel = f"files/{sha[:2]}/{sha}.png"
    rec = {"sha256": sha, "path": rel, "url": f"https://example.org/{sha[:8]}.png", "page_url": "",
           "source": "test", "title": "t", "author": "a", "license": "CC0", "license_url": "", "tags": []}
    rec.update(fields)
    return str(rec["path"]), rec


def line(rec: object) -> bytes:
    return json.dumps(rec).encode() + b"\n"


def reasons(report: dict) -> dict[str, str]:
    return {str(r["input"]): r["reason"] for r in report["rejected"]}


def run_cli(*args: str) -> int:
    return curate(["run", *args, "--workers", "1", "--no-progress", "--set", "output.html_report=false"])


# ---- 1. data loss: the output folder ------------------------------------------------------------


def test_output_folder_that_is_not_ours_is_refused_and_left_untouched(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(sprite(1))
    theirs = tmp_path / "theirs"
    (theirs / "data").mkdir(parents=True)
    (theirs / "data" / "precious.bin").write_bytes(b"do not delete")
    (theirs / "README.md").write_text("my notes")
    assert run_cli("--input", str(src), "--output", str(theirs)) == 2
    assert "not a dataset folder written by `curate run`" in capsys.readouterr().err
    assert (theirs / "data" / "precious.bin").read_bytes() == b"do not delete"
    assert (theirs / "README.md").read_text() == "my notes" and len(list(theirs.rglob("*"))) == 3

    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert run_cli("--input", str(src), "--output", str(a_file)) == 2
    assert "is not a folder" in capsys.readouterr().err and a_file.read_text() == "x"

    assert run_cli("--input", str(src), "--output", str(src)) == 2
    assert "same folder" in capsys.readouterr().err
    assert run_cli("--input", str(src), "--output", str(src / "ds")) == 2
    assert "inside --input" in capsys.readouterr().err and not (src / "ds").exists()

    ours = tmp_path / "ours"
    assert run_cli("--input", str(src), "--output", str(ours)) == 0  # new folder: fine
    assert run_cli("--input", str(src), "--output", str(ours)) == 0  # our own output: re-run in place
    assert run_cli("--input", str(ours / "data"), "--output", str(ours)) == 2
    assert "inside --output" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_cli("--input", str(src), "--output", str(tmp_path / "empty")) == 0


# ---- 2. memory: file size and archive budgets -------------------------------------------------------


def test_file_size_is_checked_before_reading(tmp_path):
    """A 3 GB (sparse) file is rejected from its size alone: nothing near its size is ever allocated."""
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as fh:
        fh.truncate(3_000_000_000)
    workers._init_worker(CurateConfig())
    tracemalloc.start()
    try:
        _, cached, images = workers.work(("0" * 64, str(huge)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000 and images == []
    [rej] = cached.rejected
    assert rej.reason == "file-too-large" and "expand.max_file_bytes = 256000000" in rej.detail

    src = tmp_path / "in"
    src.mkdir()
    (src / "small.png").write_bytes(sprite(2))
    (src / "big.png").write_bytes(sprite(3, (40, 40)) + b"\0" * 5000)
    res = pipeline.run(src, tmp_path / "out", config("expand.max_file_bytes=3000"), progress=False)
    assert reasons(res.report) == {"big.png": "file-too-large"} and res.report["counts"]["kept"] == 1



def test_an_engine_worker_reading_a_url_keeps_the_same_file_budget(tmp_path):
    """A cluster engine's task (files given as fsspec URLs) is the local pool's task: the size budget
    is checked before reading, with the same rejection, and a file under it gives the same result."""
    from curation.engines.files import process_file

    huge = tmp_path / "huge.bin"
    with huge.open("wb") as fh:
        fh.truncate(3_000_000_000)
    tracemalloc.start()
    try:
        _, cached, images = process_file(("0" * 64, huge.as_uri()), CurateConfig())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000 and images == []
    [rej] = cached.rejected
    assert rej.reason == "file-too-large" and "expand.max_file_bytes = 256000000" in rej.detail
    small = tmp_path / "small.png"
    small.write_bytes(sprite(2))
    task = hashlib.sha256(small.read_bytes()).hexdigest()
    workers._init_worker(CurateConfig())
    assert process_file((task, small.as_uri()), CurateConfig()) == workers.work((task, str(small)))

def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_of_zips_is_stopped_while_streaming():
    """8 inner zips of 64 MB of zeros each (a 600 KB file): before, every member was decompressed
    whole before its ratio was checked (512 MB, each 64 MB held at once); now reading stops at
    ``max_ratio`` x its compressed size."""
    inner = _zip({"zeros.png": bytes(64_000_000)})
    bomb = _zip({f"{i}.zip": inner for i in range(8)}, zipfile.ZIP_STORED)
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    try:
        members, rejected = expand(bomb, ExpandConfig())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert members == [] and {r.reason for r in rejected} == {"zip-ratio"} and len(rejected) == 8
    assert "expand.max_ratio" in rejected[0].detail
    assert peak < 40_000_000  # about 200 x 64 KB for the member in hand, never 64 MB


def test_archive_budget_covers_nested_archives_in_total():
    """Each nested zip used to get a fresh max_total_bytes; now one budget covers the whole raw file."""
    payload = os.urandom(100_000)  # incompressible: the ratio limit stays out of the way
    inner = _zip({"a.bin": payload}, zipfile.ZIP_STORED)
    outer = _zip({f"{i}.zip": inner for i in range(5)}, zipfile.ZIP_STORED)
    members, rejected = expand(outer, ExpandConfig(max_total_bytes=450_000))
    assert sum(len(m.data) for m in members) + sum(len(inner) for _ in members) <= 450_000
    assert rejected[-1].reason == "zip-too-large" and "expand.max_total_bytes = 450000" in rejected[-1].detail
    assert len(members) == 2  # 2 x (inner zip + its member) fit, the third inner member does not
    members, rejected = expand(outer, ExpandConfig(max_total_bytes=10_000_000))
    assert len(members) == 5 and rejected == []


def test_memory_error_rejects_one_file_and_the_run_goes_on(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.png").write_bytes(sprite(10 + i))
    real = workers.read_regular

    def read(path, limit, *a):
        if Path(path).name == "1.png":
            raise MemoryError
        return real(path, limit, *a)

    monkeypatch.setattr(workers, "read_regular", read)
    res = pipeline.run(src, tmp_path / "out", config(), progress=False)
    assert reasons(res.report) == {"1.png": "out-of-memory"} and res.report["counts"]["kept"] == 2

    def boom(*a, **k):
        raise MemoryError

    monkeypatch.setattr(workers, "read_regular", real)
    monkeypatch.setattr(workers, "process_bytes", boom)
    res = pipeline.run(src, tmp_path / "out2", config(), progress=False)
    assert set(reasons(res.report).values()) == {"out-of-memory"}


# ---- 3. hangs: FIFOs ------------------------------------------------------------------------------


def test_inspect_on_a_fifo_is_a_clear_error_not_a_hang(tmp_path, capsys):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    box: dict[str, int] = {}
    t = threading.Thread(target=lambda: box.setdefault("rc", curate(["inspect", str(fifo)])), daemon=True)
    t.start()
    t.join(20)
    if t.is_alive():  # release the hung reader so the test suite goes on, then fail
        with open(fifo, "wb"):
            pass
        t.join(5)
        pytest.fail("curate inspect hung on a FIFO")
    assert box["rc"] == 2 and "is a FIFO, not a regular file" in capsys.readouterr().err


def test_fifos_and_special_files_in_inputs_are_rejections(tmp_path):
    good = sprite(20)
    rel, rec = record(good)
    fifo_rel, fifo_rec = record(b"fifo", path="files/ff/pipe.png")
    store = store_with(tmp_path / "raw", [line(rec), line(fifo_rec)], {rel: good})
    (store / fifo_rel).parent.mkdir(parents=True)
    os.mkfifo(store / fifo_rel)
    res = pipeline.run(store, tmp_path / "out", config(), progress=False)
    assert res.report["counts"]["kept"] == 1
    assert reasons(res.report)[fifo_rec["url"]] == "not-a-file"

    src = tmp_path / "folder"
    src.mkdir()
    (src / "a.png").write_bytes(good)
    os.mkfifo(src / "b.png")
    res = pipeline.run(src, tmp_path / "out2", config(), progress=False)
    assert reasons(res.report) == {"b.png": "not-a-file"} and res.report["counts"]["kept"] == 1


# ---- 4. one bad record never aborts a batch -------------------------------------------------------


def test_hostile_manifest_lines_are_rejections(tmp_path):
    good = sprite(30)
    rel, rec = record(good)
    bad_lines = [
        b'{"sha256": "' + b"a" * 64 + b'", "path": "files/x\xff\xfe.png"}\n',  # invalid UTF-8
        b"[" * 100_000 + b"]" * 100_000 + b"\n",  # RecursionError in json
        line({**rec, "path": "files/a\u0000b.png", "url": "nul"}),  # NUL byte in the path
        line({**rec, "url": ["https://a", "https://b"]}),  # url as a list
        line({**rec, "source": {"nested": True}}),  # source as a dict
        line({**rec, "sha256": 5}),  # wrong type of key
        line({**rec, "licenses": "CC0", "url": "licenses-as-string"}),  # licenses not a list
        line({**rec, "licenses": [{"name": ""}], "url": "licenses-empty-name"}),  # a licence without a name
        line({**rec, "licenses": [{"name": "CC0", "url": 7}], "url": "licenses-url-int"}),
        line({**rec, "title": "\udcff", "url": "lone-surrogate"}),  # not encodable as UTF-8 (Parquet)
        b"[1, 2]\n",
        b'"just a string"\n',
        b"x" * 2_000_000 + b"\n",  # over MAX_MANIFEST_LINE
    ]
    store = store_with(tmp_path / "raw", [line(rec), *bad_lines], {rel: good})
    res = pipeline.run(store, tmp_path / "out", config(), progress=False)
    bad = [r for r in res.report["rejected"] if r["reason"] == "bad-manifest-line"]
    assert len(bad) == len(bad_lines) and res.report["counts"]["kept"] == 1
    details = " ".join(r["detail"] for r in bad)
    for needle in ("not UTF-8", "nested too deeply", "NUL", "url must be a string", "source must be a string",
                   "not valid Unicode", "longer than", "licenses must be a list"):
        assert needle in details
    assert pq.read_table(next((tmp_path / "out" / "data").glob("train-*.parquet"))).num_rows == 1


def _unprivileged(fn) -> int:
    """Run ``fn()`` in a forked child without root's file permission override; its exit status.

    Root ignores chmod 000, so as root the child first enters a new user namespace
    (``unshare(CLONE_NEWUSER)``): root's files keep their owner permissions, but no capability
    overrides them any more, so chmod 000 really denies reading.
    """
    pid = os.fork()
    if pid == 0:  # the child: always leaves through os._exit
        code = 1
        try:
            if os.geteuid() == 0:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
                    os._exit(3)
            fn()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 3:
        pytest.skip("cannot enter a user namespace to drop root's file permission override")
    return code


def test_unreadable_files_and_folders_are_rejections_not_aborts(tmp_path):
    """A chmod-000 file and a chmod-000 folder, read for real without privileges: each is a
    rejection with its reason and the other files are curated."""
    src = tmp_path / "in"
    (src / "locked").mkdir(parents=True)
    (src / "a.png").write_bytes(sprite(40))
    (src / "secret.png").write_bytes(sprite(41))
    (src / "locked" / "c.png").write_bytes(sprite(42))
    (src / "secret.png").chmod(0o000)
    (src / "locked").chmod(0o000)
    out = tmp_path / "out"
    try:
        code = _unprivileged(lambda: pipeline.run(src, out, config(), progress=False))
    finally:
        (src / "locked").chmod(0o755)
        (src / "secret.png").chmod(0o644)
    assert code == 0
    report = json.loads((out / "curation_report.json").read_text())
    assert reasons(report) == {"secret.png": "unreadable", "locked": "unreadable-folder"}
    assert report["counts"]["kept"] == 1

    def locked_input() -> None:  # an input that cannot be listed at all is an error, not an empty dataset
        with pytest.raises(CurateError, match="cannot be read: Permission denied"):
            pipeline.run(src, tmp_path / "out2", config(), progress=False)

    src.chmod(0o000)
    try:
        assert _unprivileged(locked_input) == 0
    finally:
        src.chmod(0o755)


def test_file_names_that_are_not_utf8_are_rejected_before_any_work(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "ok.png").write_bytes(sprite(50))
    bad = os.fsdecode(b"bad-\xff.png")
    (src / bad).write_bytes(sprite(51))
    out = tmp_path / "out"
    assert run_cli("--input", str(src), "--output", str(out)) == 0
    report = json.loads((out / "curation_report.json").read_text())
    assert reasons(report) == {"bad-\\xff.png": "bad-file-name"} and report["counts"]["kept"] == 1
    assert (out / "README.md").is_file()


# ---- 5. clear errors: damaged cache, full disk ------------------------------------------------------


def test_corrupt_cache_is_a_clear_error(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(sprite(60))
    out = tmp_path / "out"
    out.mkdir()
    (out / "cache.sqlite").write_bytes(b"this is not a database" * 100)
    assert run_cli("--input", str(src), "--output", str(out)) == 2
    err = capsys.readouterr().err
    assert "cache.sqlite is damaged or not a pixelforge cache" in err and "delete it and run again" in err
    assert "Traceback" not in err

    (out / "cache.sqlite").unlink()
    assert run_cli("--input", str(src), "--output", str(out)) == 0
    import sqlite3

    db = sqlite3.connect(out / "cache.sqlite")
    db.execute("UPDATE files SET result = '{\"items\": 3}'")
    db.commit()
    db.close()
    assert run_cli("--input", str(src), "--output", str(out)) == 2
    assert "is damaged" in capsys.readouterr().err


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MB tmpfs (root only); a real ENOSPC, not a simulated one."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a tmpfs")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)  # lazy: a leaked descriptor cannot keep it mounted


def test_full_disk_is_a_clear_error_and_the_last_dataset_survives(tmp_path, tiny_disk, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.png").write_bytes(sprite(70 + i))
    out = tiny_disk / "out"
    assert run_cli("--input", str(src), "--output", str(out)) == 0
    before = {p.name: p.read_bytes() for p in (out / "data").iterdir()}
    filler = tiny_disk / "filler"
    with filler.open("wb") as fh:  # fill the disk to the last block
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    for i in range(3, 40):
        (src / f"{i}.png").write_bytes(sprite(70 + i, (24, 24)))
    code = run_cli("--input", str(src), "--output", str(out))
    err = capsys.readouterr().err
    assert code == 2 and "no space left" in err and "Traceback" not in err, err
    assert {p.name: p.read_bytes() for p in (out / "data").iterdir()} == before  # the last dataset is whole
    assert not (out / ".data.tmp").exists()
    filler.unlink()
    assert run_cli("--input", str(src), "--output", str(out)) == 0  # room again: the run completes
    assert json.loads((out / "curation_report.json").read_text())["counts"]["inputs"] == 40


# ---- 7. symlinks leading out of a plain folder ----------------------------------------------------


def test_symlinks_out_of_a_folder_input_are_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.png").write_bytes(sprite(80))
    (outside / "dir").mkdir()
    (outside / "dir" / "p.png").write_bytes(sprite(81))
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.png").write_bytes(sprite(82))
    (src / "leak.png").symlink_to(outside / "private.png")
    (src / "leakdir").symlink_to(outside / "dir")
    (src / "alias.png").symlink_to(src / "sub" / "a.png")  # inside the input: fine
    (src / "loop").symlink_to(src)  # inside the input, a folder: not walked twice
    (src / "dangling.png").symlink_to(src / "gone.png")
    res = pipeline.run(src, tmp_path / "out", config(), progress=False)
    assert reasons(res.report) == {"leak.png": "symlink-escape", "leakdir": "symlink-escape",
                                   "dangling.png": "missing-file"}
    assert res.report["counts"]["kept"] == 1
    urls = [r["url"] for r in pq.read_table(next((tmp_path / "out" / "data").glob("train-*"))).to_pylist()]
    assert urls in (["alias.png"], ["sub/a.png"])


# ---- 3. hangs: a Hub that accepts a commit and never answers ---------------------------------------


@pytest.mark.filterwarnings("ignore:Use .content=<...>.:DeprecationWarning")  # huggingface_hub's LFS upload
def test_push_to_a_hub_that_never_answers_ends_with_a_clear_error(monkeypatch, tmp_path, capsys):
    import huggingface_hub.constants as hf_constants

    from pixelforge.testing.dataset_folder import build_dataset_folder
    from pixelforge.testing.fake_hub import FakeHub

    token, user = "hf_hostileTESTtoken0123456789abcdef", "pixeluser"
    for name in ("HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    folder = build_dataset_folder(tmp_path / "ds", n_train=2, n_test=1)
    with FakeHub({token: user}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", token)
        monkeypatch.setattr(hf_constants, "ENDPOINT", hub.url)
        monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))
        hub.hang_on("commit")
        box: dict[str, int] = {}
        t = threading.Thread(target=lambda: box.setdefault("rc", curate(
            ["push", str(folder.path), "--repo-id", f"{user}/sprites", "--timeout", "1"])), daemon=True)
        t.start()
        t.join(30)
        hung = t.is_alive()
        hub.released.set()  # let a hung push go, whatever happened
        t.join(10)
        assert not hung, "curate push hung on a Hub that never answers"
        err = capsys.readouterr().err
        assert box["rc"] == 1
        assert "did not answer" in err and "no answer within 1 s (POST /api/datasets/pixeluser/sprites/commit" in err
        assert "run the same `curate push` again" in err and token not in err
        assert len(hub.calls("commit")) == 1  # not retried: the Hub had acted on it
        assert hub.repos[f"{user}/sprites"].commits  # it had indeed landed
