"""`curate push` against a local Hub that implements the endpoints huggingface_hub really calls."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import huggingface_hub.constants as hf_constants
import pytest
import yaml
from datasets import Image, load_dataset

from curation.cli import main as curate
from data_cards.card import write_card
from pixelforge.dataset import COLUMNS, FEATURES
from pixelforge.testing.dataset_folder import build_dataset_folder
from pixelforge.testing.fake_hub import FakeHub, validate_card_metadata

# huggingface_hub's LFS upload passes a file object as `data=`; httpx2 deprecates that. Not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

TOKEN = "hf_pixelforgeTESTtoken0123456789abcdef"
USER = "pixeluser"
REPO = f"{USER}/sprites"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A fresh fake Hub; huggingface_hub pointed at it, token in HF_TOKEN, no login cache."""
    for name in ("HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "HF_HUB_OFFLINE"):  # no token from elsewhere
        monkeypatch.delenv(name, raising=False)
    with FakeHub({TOKEN: USER}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setattr(hf_constants, "ENDPOINT", server.url)
        monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))
        yield server


@pytest.fixture
def folder(tmp_path):
    """8 rows: train 6 (2 of them with unknown licence), test 2."""
    return build_dataset_folder(tmp_path / "sprites", n_train=6, n_test=2, licenses=("CC0 1.0", "CC-BY 4.0", "unknown"))


def hub_calls(hub: FakeHub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in hub.requests if not r.path.startswith("/api/agent-harnesses")]


def all_text(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def assert_no_token(capsys_out: str, *roots: Path, hub: FakeHub | None = None) -> None:
    assert TOKEN not in capsys_out
    for root in roots:
        assert TOKEN.encode() not in all_text(root)
    if hub is not None:
        for req in hub.requests:
            assert TOKEN.encode() not in req.body


def test_push_creates_repo_and_commits_everything_once(hub, folder, tmp_path, capsys):
    assert curate(["push", str(folder.path), "--repo-id", REPO, "--private"]) == 0
    out = capsys.readouterr()
    assert f"published 6 images to {hub.url}/datasets/{REPO}" in out.out
    assert "left out: 2 images with unknown licence" in out.out

    create = hub.calls("create")
    assert len(create) == 1
    assert create[0].json() == {"name": "sprites", "organization": USER, "visibility": "private", "type": "dataset"}
    assert hub.repos[REPO].private
    commits = hub.calls("commit")
    assert len(commits) == 1 and commits[0].path == f"/api/datasets/{REPO}/commit/main"
    # every call that needs it carries the token in the Authorization header, and only there
    for req in hub.requests:
        if req.path.startswith(("/api/whoami", "/api/repos", f"/api/datasets/{REPO}", f"/datasets/{REPO}.git")):
            assert req.headers["authorization"] == f"Bearer {TOKEN}"
    # the commit: header + 6 files; binaries via LFS (uploaded and verified), text inline
    lines = [json.loads(line) for line in commits[0].body.splitlines()]
    assert lines[0]["key"] == "header" and "6 images" in lines[0]["value"]["summary"]
    ops = {line["value"]["path"]: line for line in lines[1:]}
    assert set(ops) == {
        "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet", "data/test-00000-of-00001.parquet",
        "README.md", "samples.png", "attribution.csv",
    }
    assert ops["data/test-00000-of-00001.parquet"]["key"] == "lfsFile"
    assert ops["README.md"]["key"] == "file"
    readme = base64.b64decode(ops["README.md"]["value"]["content"]).decode()
    assert validate_card_metadata(readme) == []
    assert f'load_dataset("{REPO}")' in readme
    assert "published without 2 images whose licence is unknown" in readme
    attribution = base64.b64decode(ops["attribution.csv"]["value"]["content"]).decode()
    assert attribution.count("\n") == 1 + 6 and "unknown" not in attribution
    # the test split had no unknown licence: its shard is the original file, byte for byte
    assert hub.repos[REPO].files["data/test-00000-of-00001.parquet"] == (
        folder.path / "data/test-00000-of-00001.parquet"
    ).read_bytes()
    # the repo is a dataset: load what was published
    served = hub.export(REPO, tmp_path / "served")
    ds = load_dataset(str(served), cache_dir=str(tmp_path / "cache"))
    want = {s: [r for r in rows if r["license"] != "unknown"] for s, rows in folder.rows.items()}
    assert {s: ds[s].num_rows for s in ds} == {s: len(r) for s, r in want.items()}
    assert ds["train"].features == FEATURES and list(ds["train"].features) == list(COLUMNS)
    assert ds["train"]["sha256"] == [r["sha256"] for r in want["train"]]
    assert ds["test"]["pixel_sha256"] == [r["pixel_sha256"] for r in want["test"]]
    raw = ds["train"].cast_column("image", Image(decode=False)).cast_column("native", Image(decode=False))
    assert [r["image"]["bytes"] for r in raw] == [r["image"]["bytes"] for r in want["train"]]
    assert [r["native"]["bytes"] for r in raw] == [r["native"]["bytes"] for r in want["train"]]
    # the token went nowhere but the header
    assert_no_token(out.out + out.err, folder.path, served, hub=hub)
    assert "README.md" not in {p.name for p in folder.path.iterdir()}  # the local folder was not touched


def test_include_unknown_license_publishes_every_row(hub, folder, tmp_path, capsys):
    assert curate(["push", str(folder.path), "--repo-id", REPO, "--include-unknown-license"]) == 0
    assert "published 8 images" in capsys.readouterr().out
    ds = load_dataset(str(hub.export(REPO, tmp_path / "served")), cache_dir=str(tmp_path / "cache"))
    assert (ds["train"].num_rows, ds["test"].num_rows) == (6, 2)
    assert not hub.repos[REPO].private
    card = hub.repos[REPO].files["README.md"].decode()
    assert "2 images have no licence stated" in card and "published without" not in card
    assert "includes them because it was published with `--include-unknown-license`" in card


def test_bad_repo_id_is_refused_before_any_request(hub, folder, capsys):
    assert curate(["push", str(folder.path), "--repo-id", "a/b/c"]) == 2
    assert "bad --repo-id" in capsys.readouterr().err and hub.requests == []


def test_repush_replaces_stale_shards_in_the_same_commit(hub, tmp_path, capsys):
    big = build_dataset_folder(tmp_path / "v1", n_train=6, n_test=1, shards={"train": 3, "test": 1})
    assert curate(["push", str(big.path), "--repo-id", REPO]) == 0
    small = build_dataset_folder(tmp_path / "v2", n_train=4, n_test=1, shards={"train": 2, "test": 1})
    assert curate(["push", str(small.path), "--repo-id", REPO]) == 0
    assert "removed 3 stale shard(s)" in capsys.readouterr().out  # -of-00003 names
    assert len(hub.calls("create")) == 2  # second time: 409, already exists, fine
    assert len(hub.repos[REPO].commits) == 2
    assert sorted(p for p in hub.repos[REPO].files if p.startswith("data/train")) == [
        "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]
    ds = load_dataset(str(hub.export(REPO, tmp_path / "served")), cache_dir=str(tmp_path / "cache"))
    assert ds["train"].num_rows == 4


def test_dry_run_lists_exact_files_and_touches_no_network(hub, folder, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN")  # a dry run needs no token either
    assert curate(["push", str(folder.path), "--repo-id", REPO, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert hub.requests == []
    assert "would upload 6 files" in out and "no network was touched" in out
    test_shard = folder.path / "data/test-00000-of-00001.parquet"
    assert f"{'data/test-00000-of-00001.parquet':<33}  {test_shard.stat().st_size:>12,} B" in out
    for name in ("README.md", "samples.png", "attribution.csv", "data/train-00000-of-00002.parquet"):
        assert name in out
    # the sizes are those of the real push
    assert curate(["push", str(folder.path), "--repo-id", REPO, "--dry-run"]) == 0
    assert capsys.readouterr().out == out  # deterministic staging
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert curate(["push", str(folder.path), "--repo-id", REPO]) == 0
    for name, data in hub.repos[REPO].files.items():
        assert f"{name:<33}  {len(data):>12,} B" in out


def test_missing_token_is_a_clear_error(hub, folder, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN")
    assert curate(["push", str(folder.path), "--repo-id", REPO]) == 2
    err = capsys.readouterr().err
    assert "no Hugging Face token" in err and "HF_TOKEN" in err and "Nothing was published" in err
    assert hub_calls(hub) == []


def test_token_from_login_cache(hub, folder, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN")
    token_file = tmp_path / "hf-home" / "token"
    token_file.parent.mkdir()
    token_file.write_text(TOKEN)
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(token_file))
    assert curate(["push", str(folder.path), "--repo-id", "sprites"]) == 0  # namespace from whoami
    out = capsys.readouterr()
    assert REPO in hub.repos and f"published 6 images to {hub.url}/datasets/{REPO}" in out.out
    assert f'load_dataset("{REPO}")' in hub.repos[REPO].files["README.md"].decode()
    assert_no_token(out.out + out.err, folder.path, hub=hub)


def test_rejected_token_401(hub, folder, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_value_42")
    assert curate(["push", str(folder.path), "--repo-id", REPO]) == 1
    err = capsys.readouterr().err
    assert "401" in err and "rejected the token" in err and "Nothing was published" in err
    assert "hf_wrong_token_value_42" not in err
    assert hub.repos == {} and hub.calls("commit") == []


def test_forbidden_namespace_403(hub, folder, capsys):
    assert curate(["push", str(folder.path), "--repo-id", "someone-else/sprites"]) == 1
    err = capsys.readouterr().err
    assert "403" in err and "someone-else/sprites" in err and "Nothing was published" in err
    assert hub.calls("commit") == []


def test_rate_limit_on_commit_publishes_nothing(hub, folder, capsys):
    hub.fail_on("commit", 429, {"Retry-After": "30"})
    assert curate(["push", str(folder.path), "--repo-id", REPO]) == 1
    out = capsys.readouterr()
    assert "rate limited" in out.err and "retry in 30 s" in out.err and "Nothing was published" in out.err
    assert "published 6 images" not in out.out
    assert hub.repos[REPO].files == {}  # repo created, but no commit landed
    assert_no_token(out.out + out.err, hub=hub)


def test_network_failure(folder, monkeypatch, tmp_path, capsys):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(hf_constants, "ENDPOINT", f"http://127.0.0.1:{port}")  # nothing may reach the real Hub
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "none"))
    assert curate(["push", str(folder.path), "--repo-id", REPO]) == 1
    out = capsys.readouterr()
    assert "network error" in out.err and f"127.0.0.1:{port}" in out.err and "Nothing was published" in out.err
    assert TOKEN not in out.out + out.err


def test_all_unknown_has_nothing_to_publish(hub, tmp_path, capsys):
    built = build_dataset_folder(tmp_path / "anon", n_train=2, n_test=1, licenses=("unknown",))
    assert curate(["push", str(built.path), "--repo-id", REPO]) == 2
    assert "nothing to publish" in capsys.readouterr().err and hub.requests == []
    card = write_card(built.path).read_text()
    assert "None of the 3 images has a licence stated by its source" in card and "license: unknown" in card


def test_cli_end_to_end_in_a_subprocess(folder, tmp_path):
    """As a user runs it: env read at import time, progress bars on, nothing leaks the token."""
    with FakeHub({TOKEN: USER}) as hub:
        env = {k: v for k, v in os.environ.items() if k not in ("HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "HF_HUB_OFFLINE")}
        env = {**env, "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_XET": "1",
               "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_VERBOSITY": "debug", "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [sys.executable, "-m", "curation", "push", str(folder.path), "--repo-id", REPO],
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        assert "published 6 images" in proc.stdout
        assert_no_token(proc.stdout + proc.stderr, folder.path, tmp_path, hub=hub)
        meta = yaml.safe_load(hub.repos[REPO].files["README.md"].decode().split("---\n")[1])
        assert {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]} == {"train": 4, "test": 2}


def test_hub_refusing_the_card_metadata_publishes_nothing(hub, folder, capsys):
    hub.fail_on("validate", 400)
    assert curate(["push", str(folder.path), "--repo-id", REPO]) == 1
    err = capsys.readouterr().err
    assert "refused the upload" in err and "Invalid metadata in README.md" in err and "Nothing was published" in err
    assert hub.calls("preupload") == [] and hub.calls("commit") == []


def test_split_commits_puts_the_card_last():
    from data_cards.push import UploadFile, split_commits

    files = [UploadFile(name, Path("x"), 1) for name in ("README.md", "samples.png", "attribution.csv")]
    files += [UploadFile(f"data/train-{i:05d}-of-00005.parquet", Path("x"), 1) for i in range(5)]
    assert [len(c) for c in split_commits(files, limit=10)] == [8]
    commits = split_commits(files, limit=3)
    assert [len(c) for c in commits] == [3, 3, 2]
    assert [f.path_in_repo for f in commits[-1]][-1] == "README.md"
    assert all(f.path_in_repo.startswith("data/") for f in commits[0])


def test_partial_multi_commit_upload_is_not_called_published(hub, folder, tmp_path):
    from data_cards.push import PushError, prepare_push, split_commits, upload

    plan = prepare_push(folder.path, tmp_path / "stage", repo_id=REPO)
    plan.commits = split_commits(plan.files, limit=2)  # as if the Hub allowed 2 files per commit
    hub.fail_on("commit", 500, after=1)
    with pytest.raises(PushError) as info:
        upload(plan, token=TOKEN)
    message = str(info.value)
    assert f"Only 1 of {len(plan.commits)} commits landed" in message and "INCOMPLETE (not published)" in message
    assert "Nothing was published" not in message
    assert len(hub.repos[REPO].commits) == 1 and "README.md" not in hub.repos[REPO].files  # card goes last
    del hub.failures["commit"]
    result = upload(plan, token=TOKEN)  # running it again finishes the job
    assert len(result.commit_urls) == len(plan.commits) and "README.md" in hub.repos[REPO].files
