"""Models on the Hub: `train publish` a real (tiny) run to the local fake Hub, then load it back with
`pixelate --checkpoint hf://...` and `train --init-from hf://...`, byte for byte."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import replace
from pathlib import Path

import huggingface_hub.constants as hf_constants
import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from PIL import Image
from safetensors.torch import load_file, save_file

from inference.cli import main as pixelate
from pixelforge.model.hub import HubModelError, parse_hub_ref, resolve_checkpoint
from pixelforge.testing.dataset_folder import build_dataset_folder
from pixelforge.testing.fake_hub import FakeHub, validate_card_metadata
from training.cli import main as train_cli
from training.config import TrainConfig
from training.loop import train
from training.provenance import DomainData, LicenceCount, credited_authors, model_license

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

TOKEN = "hf_pixelforgeMODELtoken0123456789abcdef"
USER = "pixeluser"
REPO = f"{USER}/tiny-pixels"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A run folder `train` really wrote (1 step, tiny nets) on two dataset folders with stated licences."""
    root = tmp_path_factory.mktemp("hubrun")
    a = build_dataset_folder(root / "photos", n_train=3, n_test=0, licenses=("CC0 1.0",))
    b = build_dataset_folder(root / "sprites", n_train=4, n_test=0, licenses=("CC-BY 4.0", "CC0 1.0"))
    cfg = TrainConfig(domain_a=str(a.path), domain_b=str(b.path), output=str(root / "run"), size=32, load_size=36,
                      ngf=8, n_blocks=2, ndf=8, epochs=1, epochs_decay=1, workers=0, device="cpu", pool_size=2,
                      n_samples=0, max_steps=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        torch.set_num_threads(1)
        assert train(cfg, progress=False, log=lambda *_: None).status == "max_steps"
    return root / "run"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A fresh fake Hub; huggingface_hub pointed at it by HF_ENDPOINT, a private cache, token in HF_TOKEN."""
    for name in ("HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    with FakeHub({TOKEN: USER}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))
        monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        yield server


@pytest.fixture
def photo(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (40, 52, 3), dtype=np.uint8), "RGB").save(path)
    return path


def published(hub: FakeHub, run: Path, *extra: str) -> None:
    assert train_cli(["publish", str(run), "--repo", REPO, *extra]) == 0
    assert REPO in hub.repos


def no_token_anywhere(text: str, *roots: Path, hub: FakeHub) -> None:
    assert TOKEN not in text
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), path
    for req in hub.requests:
        assert TOKEN.encode() not in req.body


def test_publish_then_pixelate_from_the_hub_equals_the_local_run(hub, run, photo, tmp_path, capsys):
    stage = tmp_path / "staged"
    old_mask = os.umask(0o022)
    try:
        assert train_cli(["publish", str(run), "--repo", REPO, "--stage", str(stage)]) == 0
    finally:
        os.umask(old_mask)
    # the staged repo is as readable as anything the user makes (not the 0700/0600 of temporary folders)
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in [stage, *stage.iterdir()]} == {
        p.name: oct(0o755 if p.is_dir() else 0o644) for p in [stage, *stage.iterdir()]}
    out = capsys.readouterr()
    assert f"published {REPO}: pixelate --checkpoint hf://{REPO}" in out.out
    files = hub.repos[REPO].files
    assert set(files) == {"G_A.safetensors", "G_B.safetensors", "config.json", "loss.png", "attribution.csv", "README.md"}
    latest = run / "checkpoints" / "latest"
    assert files["G_A.safetensors"] == (latest / "G_A.safetensors").read_bytes()  # fp32: byte for byte
    assert not any(name.startswith(("D_", "state")) for name in files)  # no discriminators, no optimizer state
    commit = hub.calls("commit")
    assert len(commit) == 1 and commit[0].path == f"/api/models/{REPO}/commit/main"
    config = json.loads(files["config.json"])
    assert config["generator"] == {"input_nc": 3, "output_nc": 3, "ngf": 8, "n_blocks": 2} and config["step"] == 1
    assert config["training"]["domain_b"] == "sprites" and str(run.parent) not in files["config.json"].decode()

    assert pixelate([str(photo), "-o", str(tmp_path / "local.png"), "--checkpoint", str(run), "-q"]) == 0
    before = len(hub.requests)
    assert pixelate([str(photo), "-o", str(tmp_path / "hub.png"), "--checkpoint", f"hf://{REPO}", "-q"]) == 0
    err = capsys.readouterr().err
    assert f"hf://{REPO}" in err and "Fetching" not in err  # -q: no progress bar, huggingface_hub's neither
    fetched = {r.path.rsplit("/", 1)[-1] for r in hub.requests[before:] if r.method == "GET" and "/resolve/" in r.path}
    assert fetched == {"G_A.safetensors", "G_B.safetensors", "config.json"}  # only what loading needs
    assert (tmp_path / "hub.png").read_bytes() == (tmp_path / "local.png").read_bytes()
    no_token_anywhere(out.out + out.err + err, stage, tmp_path / "hf-cache", hub=hub)


def test_a_model_carries_the_resolution_its_publisher_measured(hub, run, photo, tmp_path, capsys):
    """`publish --pixels-per-cell 2` records it in G_A; pixelate, the API and the web app then run it there unless told."""
    from inference.pixelator import Pixelator
    from pixelforge.model.checkpoint import CheckpointError, read_header

    stage = tmp_path / "staged"
    published(hub, run, "--pixels-per-cell", "2", "--stage", str(stage))
    assert read_header(stage / "G_A.safetensors")[1]["pixels_per_cell"] == "2"
    assert "pixels_per_cell" not in read_header(stage / "G_B.safetensors")[1]  # pixelate runs G_A only
    state = load_file(stage / "G_A.safetensors")  # the weights are the run's, unchanged (fp32)
    for key, value in load_file(run / "checkpoints" / "latest" / "G_A.safetensors").items():
        assert torch.equal(state[key], value)
    assert json.loads((stage / "config.json").read_text())["pixels_per_cell"] == 2
    assert "`pixelate` runs this model at 2 generator pixels per cell side" in (stage / "README.md").read_text()
    capsys.readouterr()
    assert pixelate([str(photo), "-o", str(tmp_path / "a.png"), "--checkpoint", f"hf://{REPO}", "-q"]) == 0
    assert "2x2 generator pixels per cell" in capsys.readouterr().err
    assert pixelate([str(photo), "-o", str(tmp_path / "b.png"), "--checkpoint", f"hf://{REPO}", "-q", "--pixels-per-cell", "1"]) == 0
    assert "1x1 generator pixels per cell" in capsys.readouterr().err
    assert Pixelator.from_checkpoint(stage).model.pixels_per_cell == 2
    assert Pixelator.from_checkpoint(stage, pixels_per_cell=0).model.pixels_per_cell == 0  # the caller's choice wins
    assert Pixelator.from_checkpoint(run).model.pixels_per_cell == 1  # nothing recorded: the default
    # a recorded value that is not a small integer is refused, not guessed at
    bad = tmp_path / "bad" / "G_A.safetensors"
    bad.parent.mkdir()
    meta = read_header(stage / "G_A.safetensors")[1]
    save_file(load_file(stage / "G_A.safetensors"), str(bad), metadata={**meta, "pixels_per_cell": "two"})
    with pytest.raises(CheckpointError, match="pixels_per_cell='two' must be an integer"):
        Pixelator.from_checkpoint(bad)
    assert train_cli(["publish", str(run), "--repo", REPO, "--dry-run", "--pixels-per-cell", "-1"]) == 2
    assert "--pixels-per-cell -1" in capsys.readouterr().err


def pixelate_says(photo: Path, tmp_path: Path, capsys, *flags: str) -> str:  # noqa: ANN001
    """What ``pixelate`` says on stderr running the published model (hf://) on ``photo`` with ``flags``."""
    capsys.readouterr()
    assert pixelate([str(photo), "-o", str(tmp_path / "out.png"), "--checkpoint", f"hf://{REPO}", "-q", *flags]) == 0
    return capsys.readouterr().err


def with_metadata(stage: Path, tmp_path: Path, **changed: str) -> Path:
    """A copy of the staged G_A with ``changed`` metadata values (a hand-edited or corrupt file)."""
    from pixelforge.model.checkpoint import read_header

    bad = tmp_path / "bad" / "G_A.safetensors"
    bad.parent.mkdir(exist_ok=True)
    meta = read_header(stage / "G_A.safetensors")[1]
    save_file(load_file(stage / "G_A.safetensors"), str(bad), metadata={**meta, **changed})
    return bad


def test_a_model_carries_the_anchoring_its_publisher_measured(hub, run, photo, tmp_path, capsys):
    """`publish --anchor-within 10` records it in G_A; pixelate and the API then use it unless told otherwise."""
    from inference.pixelator import Pixelator
    from pixelforge.model.checkpoint import CheckpointError, read_header

    stage = tmp_path / "staged"
    published(hub, run, "--anchor-within", "10", "--pixels-per-cell", "2", "--stage", str(stage))
    meta = read_header(stage / "G_A.safetensors")[1]
    assert (meta["anchor_within"], meta["pixels_per_cell"]) == ("10", "2")
    assert "anchor_within" not in read_header(stage / "G_B.safetensors")[1]
    assert json.loads((stage / "config.json").read_text())["anchor_within"] == 10
    assert "It also runs it with `--anchor-within 10`" in (stage / "README.md").read_text()
    assert Pixelator.from_checkpoint(stage).options.anchor_within == 10
    assert Pixelator.from_checkpoint(stage, anchor_within=0).options.anchor_within == 0  # the caller's choice wins
    assert Pixelator.from_checkpoint(run).options.anchor_within == 0  # nothing recorded: the default
    assert "within areas it draws alike, 10 OKLab" in pixelate_says(photo, tmp_path, capsys)
    assert "draws alike" not in pixelate_says(photo, tmp_path, capsys, "--anchor-within", "0")
    with pytest.raises(CheckpointError, match="anchor_within='nan' must be a number from 0 to 100"):
        Pixelator.from_checkpoint(with_metadata(stage, tmp_path, anchor_within="nan"))
    assert train_cli(["publish", str(run), "--repo", REPO, "--dry-run", "--anchor-within", "101"]) == 2
    assert "--anchor-within 101: must be from 0" in capsys.readouterr().err


def test_a_model_carries_the_input_and_the_kept_features_its_publisher_measured(hub, run, photo, tmp_path, capsys):
    """`publish --model-input classic-line-cells --keep-features` records both in G_A (the input over the one it was
    trained on); pixelate and the API then run it so unless told otherwise, and the card says it."""
    from inference.pixelator import Pixelator
    from pixelforge.model.checkpoint import CheckpointError, read_header

    stage = tmp_path / "staged"
    published(hub, run, "--model-input", "classic-line-cells", "--keep-features", "--pixels-per-cell", "2", "--stage", str(stage))
    meta = read_header(stage / "G_A.safetensors")[1]
    assert (meta["input"], meta["keep_features"]) == ("classic-line-cells", "1")
    config = json.loads((stage / "config.json").read_text())
    assert (config["model_input"], config["keep_features"]) == ("classic-line-cells", True)
    card = (stage / "README.md").read_text()
    assert "as input `classic-line-cells` (metadata `input`)." in card  # trained on bicubic, no generator input
    assert "It runs with `--keep-features`" in card
    loaded = Pixelator.from_checkpoint(stage)
    assert (loaded.model.model_input, loaded.options.keep_features) == ("classic-line-cells", True)
    assert Pixelator.from_checkpoint(stage, keep_features=False).options.keep_features is False  # the caller's choice wins
    assert Pixelator.from_checkpoint(run).options.keep_features is False  # nothing recorded: off
    assert "kept as dark as shown" in pixelate_says(photo, tmp_path, capsys)
    assert "kept as dark as shown" not in pixelate_says(photo, tmp_path, capsys, "--no-keep-features")
    with pytest.raises(CheckpointError, match="keep_features='yes' must be 1"):
        Pixelator.from_checkpoint(with_metadata(stage, tmp_path, keep_features="yes"))


def test_a_local_path_never_contacts_the_hub(hub, run, photo, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "runs/nam" must not depend on a runs/ folder where the tests start
    published(hub, run)
    hub.requests.clear()
    for typo in ("runs/nam", REPO, str(run) + "x"):
        assert pixelate([str(photo), "-o", str(tmp_path / "o.png"), "--checkpoint", typo, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("no such checkpoint or run folder") >= 2
    assert f"--checkpoint hf://{REPO}" in err  # the hint, not a download
    assert hub.requests == []


def test_errors_say_what_is_wrong_and_what_to_do(hub, run, photo, tmp_path, capsys):
    def fails(ref: str) -> str:
        assert pixelate([str(photo), "-o", str(tmp_path / "o.png"), "--checkpoint", ref, "-q"]) == 2
        return capsys.readouterr().err

    assert "no model repo pixeluser/nope" in fails("hf://pixeluser/nope")
    hub.requests.clear()
    assert "never downloaded" in fails(f"hf://{REPO}/latest_net_G_A.pth") and hub.requests == []
    assert "dataset repo" in fails("hf://datasets/pixeluser/sprites")
    published(hub, run, "--no-g-b")
    assert "has no G_B.safetensors (it has G_A.safetensors)" in fails_which(photo, tmp_path, capsys)
    assert "no revision 'v9'" in fails(f"hf://{REPO}@v9")
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=TOKEN)
    api.create_repo(f"{USER}/weights-only-pickle")
    api.upload_file(path_or_fileobj=b"not a pickle we load", path_in_repo="latest_net_G_A.pth",
                    repo_id=f"{USER}/weights-only-pickle")
    err = fails(f"hf://{USER}/weights-only-pickle")
    assert "holds no generator" in err and "pickles are never loaded from the Hub" in err
    assert not any(r.path.endswith(".pth") and "/resolve/" in r.path for r in hub.requests)


def fails_which(photo: Path, tmp_path: Path, capsys) -> str:
    args = [str(photo), "-o", str(tmp_path / "o.png"), "--checkpoint", f"hf://{REPO}", "--which", "G_B", "-q"]
    assert pixelate(args) == 2
    return capsys.readouterr().err


def test_private_repo_needs_the_owner_token(hub, run, monkeypatch):
    published(hub, run, "--private")
    assert hub.repos[REPO].private
    assert resolve_checkpoint(f"hf://{REPO}").is_dir()  # with HF_TOKEN
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(Path(hf_constants.HF_HUB_CACHE) / "other"))
    with pytest.raises(HubModelError, match=r"no model repo .* \(or it is private"):
        resolve_checkpoint(f"hf://{REPO}")


def test_revision_pin_offline_cache_and_a_hub_that_is_down(hub, run, monkeypatch):
    published(hub, run)
    first = hub.repos[REPO].commits[-1]["oid"]
    published(hub, run, "--fp16")
    fp16 = load_file(str(resolve_checkpoint(f"hf://{REPO}") / "G_A.safetensors"))
    assert all(t.dtype == torch.float16 for t in fp16.values())
    pinned = resolve_checkpoint(f"hf://{REPO}@{first}")
    assert (pinned / "G_A.safetensors").read_bytes() == (run / "checkpoints/latest/G_A.safetensors").read_bytes()
    # offline: the cache answers, the Hub hears nothing
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.requests.clear()
    assert resolve_checkpoint(f"hf://{REPO}@{first}") == pinned and hub.requests == []
    with pytest.raises(HubModelError, match="HF_HUB_OFFLINE is set"):
        resolve_checkpoint(f"hf://{USER}/never-downloaded")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    # a Hub that is down: a quick, clear error (or the cached copy)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.monotonic()
    with pytest.raises(HubModelError, match=r"cannot reach the Hub at http://127\.0\.0\.1.*pass a local run folder"):
        resolve_checkpoint(f"hf://{USER}/never-downloaded")
    assert time.monotonic() - start < 10
    assert resolve_checkpoint(f"hf://{REPO}") == resolve_checkpoint(f"hf://{REPO}@{hub.repos[REPO].commits[-1]['oid']}")


def test_dry_run_lists_the_exact_files_and_sends_nothing(hub, run, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN")  # a dry run needs no token
    assert train_cli(["publish", str(run), "--repo", REPO, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert hub.requests == [] and "no network was touched" in out and "licence: other" in out
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    published(hub, run)
    for name, data in hub.repos[REPO].files.items():
        assert f"{name:<15}  {len(data):>12,} B" in out


def test_token_rules(hub, run, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN")
    assert train_cli(["publish", str(run), "--repo", REPO]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err and hub.requests == []
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_value_42")
    assert train_cli(["publish", str(run), "--repo", REPO]) == 1
    err = capsys.readouterr().err
    assert "401" in err and "Nothing was published" in err and "hf_wrong_token_value_42" not in err
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert train_cli(["publish", str(run), "--repo", "someone-else/tiny"]) == 1
    assert "may not write to someone-else/tiny (403" in capsys.readouterr().err
    assert train_cli(["publish", str(run), "--repo", "no-owner"]) == 2
    assert "OWNER/NAME" in capsys.readouterr().err


def test_a_fine_tuned_run_names_its_starting_weights():
    from training.model_card import _progress

    assert _progress({"step": 3260, "epoch": 0}) == "Published from the checkpoint at optimizer step 3,260 (epoch 1)."
    assert "started from the weights of `runs/cpu-native`" in _progress({"step": 3260, "epoch": 0}, "runs/cpu-native")
    assert _progress({"step": 3260, "epoch": 1, "iteration": 0}).endswith("step 3,260 (the end of epoch 1).")


def test_a_model_trained_in_stages_lists_every_stage(tmp_path, monkeypatch):
    """`make model` trains recipes in turn, each from the run before: the card names them all, with their steps."""
    from training.model_card import _progress
    from training.publish import lineage

    monkeypatch.chdir(tmp_path)
    for name, parent, steps in (("stage1", "", 6520), ("stage2", "runs/stage1", 3260), ("stage3", "runs/stage2", 3260)):
        latest = tmp_path / "runs" / name / "checkpoints" / "latest"
        latest.mkdir(parents=True)
        (latest / "state.json").write_text(json.dumps({"counters": {"step": steps, "epoch": 1, "iteration": 0}}))
        (tmp_path / "runs" / name / "config.json").write_text(json.dumps({"init_from": parent}))
    chain = lineage("runs/stage3")
    assert [(a.name, a.steps, a.from_scratch) for a in chain] == [
        ("stage3", 3260, False), ("stage2", 3260, False), ("stage1", 6520, True)]
    text = _progress({"step": 3260, "epoch": 1, "iteration": 0}, "runs/stage3", chain)
    assert "fine-tuned from the weights of `stage3` (3,260 steps) (`init_from`), which descends from `stage2` (3,260 steps) <- " \
           "`stage1` (6,520 steps). That one was trained from random weights. 16,300 optimizer steps in all." in text
    # a published model folder (the release a stage started from): its own step and parent, never "from random weights"
    released = tmp_path / "weights" / "release-v7"
    released.mkdir(parents=True)
    (released / "config.json").write_text(json.dumps({"format": "pixelforge", "step": 3260, "training": {"init_from": "cpu-native-v5"}}))
    (tmp_path / "runs" / "stage4" / "checkpoints" / "latest").mkdir(parents=True)
    (tmp_path / "runs" / "stage4" / "config.json").write_text(json.dumps({"init_from": "weights/release-v7"}))
    assert [(a.name, a.steps, a.from_scratch) for a in lineage("runs/stage4")] == [
        ("stage4", None, False), ("release-v7", 3260, False), ("cpu-native-v5", None, False)]
    # a parent that is not a run folder here (moved, or a bare checkpoint) ends the chain without guessing
    assert [(a.name, a.steps, a.from_scratch) for a in lineage("./elsewhere/gone")] == [("gone", None, False)]
    assert "Earlier stages, if any, are not recorded here." in _progress({"step": 1}, "./elsewhere/gone", lineage("./elsewhere/gone"))
    assert lineage("hf://owner/model") == []  # a Hub model is named by init_from alone


def test_the_model_card(hub, run, tmp_path, capsys):
    (run / "metrics.json").write_text(json.dumps({"command": "python benchmarks/quality.py", "metrics": {
        "ssim": 0.8312, "delta_e2000": 4.25, "purity": 1.0}, "limitations": ["Worse on photos:\nΔE2000 3.11 vs 2.73.", "x" * 999]}))
    try:
        published(hub, run)
    finally:
        (run / "metrics.json").unlink()
    card = hub.repos[REPO].files["README.md"].decode()
    assert validate_card_metadata(card, "model") == []
    data = ModelCard(card).data
    assert {"pixel-art", "cyclegan", "image-to-image"} <= set(data.tags)
    assert (data.pipeline_tag, data.library_name) == ("image-to-image", "pixelforge")
    # two licences (CC0 1.0 and CC-BY 4.0) -> other, pointing at the per-image list
    assert (data.license, data.license_name, data.license_link) == ("other", "mixed-training-data-licenses", "attribution.csv")
    assert f"pixelate photo.jpg -o out/ --checkpoint hf://{REPO}" in card
    assert "| B | CC-BY 4.0 | cc-by-4.0 | 2 |" in card and "Ada Pixel" in card  # attribution for CC-BY
    assert "| `ngf` | `8` |" in card and "optimizer step 1 " in card
    assert "| `b_balance` | off |" in card  # an option left off reads "off", not `""`
    assert "| ssim | 0.8312 |" in card and "`python benchmarks/quality.py`" in card
    # the measured limitations head the card's list, one line each and bounded, before the generic caveats
    limits = card.split("## Limitations\n\n")[1].splitlines()
    assert limits[0] == "- Worse on photos: ΔE2000 3.11 vs 2.73." and limits[1] == "- " + "x" * 400
    assert limits[2].startswith("- A CycleGAN learns the look")
    assert "metrics.json" in hub.repos[REPO].files and "![Training losses](loss.png)" in card
    attribution = hub.repos[REPO].files["attribution.csv"].decode().splitlines()
    assert attribution[0] == "domain,title,author,license,license_url,page_url" and len(attribution) == 1 + 3 + 4
    # the Hub's own rules bite: a licence list is a dataset-card form, not a model card's
    meta = yaml.safe_load(card.split("---\n")[1])
    broken = card.replace(yaml.safe_dump({"license": meta["license"]}).strip(), "license:\n- mit\n- cc0-1.0", 1)
    assert any("license" in e for e in validate_card_metadata(broken, "model"))
    # a republish without metrics removes the stale metrics.json in the same commit
    published(hub, run)
    assert "metrics.json" not in hub.repos[REPO].files and "No metrics were published" in hub.repos[REPO].files["README.md"].decode()
    assert "removed 1 file(s) an earlier publish wrote: metrics.json" in capsys.readouterr().out


def test_the_card_credits_each_person_once():
    """LPC frames credit several people in one field, in ever new combinations (strings from the corpus's manifest)."""
    fields = ["Stephen Challener (Redshrike); Johannes Sjölund", "Stephen Challener (Redshrike); Matthew Krohn",
              "Johannes Sjölund", "JaidynReiman; JRConway3 (shoulder hair, see AUTHORS.txt)", "", " ; "]
    assert credited_authors(fields) == ("JaidynReiman", "Johannes Sjölund", "JRConway3 (shoulder hair, see AUTHORS.txt)",
                                        "Matthew Krohn", "Stephen Challener (Redshrike)")


def test_licence_follows_the_training_data():
    def domain(role, *licences, kind="dataset folder"):
        return DomainData(role, role, kind, 2, tuple(LicenceCount(s, h, "", 1, ()) for s, h in licences))

    assert model_license([domain("A", ("CC0 1.0", "cc0-1.0")), domain("B", ("CC0", "cc0-1.0"))]) == ("cc0-1.0", {})
    assert model_license([domain("A", ("CC0 1.0", "cc0-1.0")), domain("B", kind="image folder")])[0] == "unknown"
    assert model_license([domain("A", ("CC0 1.0", "cc0-1.0")), domain("B", ("unknown", "unknown"))])[0] == "unknown"
    assert model_license([domain("A", ("Free Art License", None)), domain("B", ("Free Art License", None))]) == (
        "other", {"license_name": "free-art-license"})


def test_init_from_the_hub_starts_from_the_published_generators(hub, run, tmp_path):
    published(hub, run)
    saved = json.loads((run / "config.json").read_text())
    cfg = replace(TrainConfig.from_mapping(saved), output=str(tmp_path / "run2"), init_from=f"hf://{REPO}", lr=0.0,
                  max_steps=1, resume=None)
    torch.set_num_threads(1)
    assert train(cfg, progress=False, log=lambda *_: None).status == "max_steps"
    new, old = tmp_path / "run2/checkpoints/latest", run / "checkpoints/latest"
    for name in ("G_A", "G_B"):  # lr 0: the weights are the ones published
        a, b = load_file(str(new / f"{name}.safetensors")), load_file(str(old / f"{name}.safetensors"))
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_hub_refs_parse_strictly():
    ref = parse_hub_ref("hf://me/model@0123abc/sub/G_A.safetensors")
    assert (ref.repo_id, ref.revision, ref.path) == ("me/model", "0123abc", "sub/G_A.safetensors")
    assert str(parse_hub_ref("hf://models/me/model")) == "hf://me/model"
    for bad in ("hf://", "hf://me", "hf://me/", "hf://me/mo del", "hf://a/b@", "hf://a/b/../c"):
        with pytest.raises(HubModelError):
            parse_hub_ref(bad)


def test_a_hub_that_never_answers_is_an_error_in_seconds(hub, run):
    published(hub, run)
    hub.hang_on("info")
    start = time.monotonic()
    with pytest.raises(HubModelError, match=r"did not answer within 1 s and the model is not in the local cache"):
        resolve_checkpoint(f"hf://{REPO}", timeout=1)
    assert time.monotonic() - start < 8


def test_the_web_app_offers_a_hub_model(hub, run, photo):
    from webapp.models import Models

    published(hub, run)
    models = Models([f"hf://{REPO}"], shipped={})
    models.load_all()
    assert (f"checkpoint: hf://{REPO}", f"hf://{REPO}") in models.choices()
    local = Models([str(run)], shipped={})
    image = Image.open(photo)
    ours = np.asarray(models.pixelator(f"hf://{REPO}").pixelate(image))
    assert np.array_equal(ours, np.asarray(local.pixelator(str(run)).pixelate(image)))
