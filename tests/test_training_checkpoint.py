"""Checkpoints: bit-exact round trips, reference .pth import/export, clear refusals."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open

from pixelforge.model.checkpoint import (
    CheckpointError,
    discriminator_metadata,
    find_checkpoint_dir,
    generator_metadata,
    save_network,
)
from pixelforge.model.loading import (
    export_reference_pth,
    infer_generator_spec,
    load_generator,
    load_network_into,
)
from pixelforge.model.networks import DiscriminatorSpec, GeneratorSpec, init_weights
from pixelforge.model.state import load_state, save_checkpoint

TINY = GeneratorSpec(ngf=8, n_blocks=2)
TINY_D = DiscriminatorSpec(ndf=8)


def _nets(seed: int = 0) -> dict[str, torch.nn.Module]:
    torch.manual_seed(seed)
    return {
        "G_A": init_weights(TINY.build()),
        "G_B": init_weights(TINY.build()),
        "D_A": init_weights(TINY_D.build()),
        "D_B": init_weights(TINY_D.build()),
    }


def _meta() -> dict[str, dict[str, str]]:
    return {
        "G_A": generator_metadata(TINY, "AtoB", 32),
        "G_B": generator_metadata(TINY, "BtoA", 32),
        "D_A": discriminator_metadata(TINY_D, 32),
        "D_B": discriminator_metadata(TINY_D, 32),
    }


def _write_run(run: Path, seed: int = 0) -> dict[str, torch.nn.Module]:
    nets = _nets(seed)
    opt = torch.optim.Adam(nets["G_A"].parameters(), lr=2e-4, betas=(0.5, 0.999))
    nets["G_A"](torch.rand(1, 3, 32, 32)).mean().backward()
    opt.step()
    state = {"optimizer": opt.state_dict(), "iteration": 3}
    save_checkpoint(run / "checkpoints", nets, _meta(), state, also_as="epoch_0001")
    return nets


def _x(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 32, 40, generator=g) * 2 - 1


def test_checkpoint_round_trip_is_bit_exact(tmp_path):
    nets = _nets()
    opt = torch.optim.Adam(nets["G_A"].parameters(), lr=2e-4, betas=(0.5, 0.999))
    for _ in range(2):
        opt.zero_grad()
        nets["G_A"](_x()).square().mean().backward()
        opt.step()
    random.seed(5)
    np.random.seed(7)
    state = {
        "optimizer": opt.state_dict(),
        "python_rng": random.getstate(),
        "numpy_rng": np.random.get_state(),
        "torch_rng": torch.get_rng_state(),
        "pool": [torch.randn(1, 3, 4, 4), torch.randn(1, 3, 4, 4)],
        "lr": 1.0 / 3.0,
        "epoch": 4,
        "flag": None,
    }
    save_checkpoint(tmp_path / "checkpoints", nets, _meta(), state, also_as="epoch_0004")
    for folder in ("latest", "epoch_0004"):
        ckpt = tmp_path / "checkpoints" / folder
        assert sorted(p.name for p in ckpt.iterdir()) == [
            "D_A.safetensors", "D_B.safetensors", "G_A.safetensors", "G_B.safetensors",
            "state.json", "state.safetensors",
        ]
        fresh = _nets(seed=99)
        for name, net in fresh.items():
            load_network_into(net, ckpt / f"{name}.safetensors")
            for (k, a), b in zip(nets[name].state_dict().items(), net.state_dict().values()):
                assert torch.equal(a, b), (name, k)
        back = load_state(ckpt)
        opt2 = torch.optim.Adam(fresh["G_A"].parameters(), lr=1.0)
        opt2.load_state_dict(back["optimizer"])
        for s1, s2 in zip(opt.state_dict()["state"].values(), opt2.state_dict()["state"].values()):
            for key in ("step", "exp_avg", "exp_avg_sq"):
                assert torch.equal(s1[key], s2[key])
        assert opt2.param_groups[0]["betas"] == (0.5, 0.999) and opt2.param_groups[0]["lr"] == 2e-4
        random.setstate(back["python_rng"])
        assert random.random() == (random.seed(5), random.random())[1]
        np.random.set_state(back["numpy_rng"])
        ref = np.random.RandomState()
        ref.seed(7)
        assert np.random.rand() == ref.rand()
        assert torch.equal(back["torch_rng"], state["torch_rng"])
        assert all(torch.equal(a, b) for a, b in zip(back["pool"], state["pool"]))
        assert back["lr"] == 1.0 / 3.0 and back["epoch"] == 4 and back["flag"] is None
    # nothing half-written is left behind
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]


def test_generator_metadata_is_self_describing(tmp_path):
    _write_run(tmp_path)
    with safe_open(str(tmp_path / "checkpoints/latest/G_A.safetensors"), "pt") as fh:
        meta = fh.metadata()
    assert meta == {
        "format": "pixelforge", "arch": "resnet_generator", "input_nc": "3", "output_nc": "3",
        "ngf": "8", "n_blocks": "2", "direction": "AtoB", "size": "32",
    }


def test_load_generator_accepts_run_folder_checkpoint_folder_and_file(tmp_path):
    nets = _write_run(tmp_path)
    x = _x()
    with torch.no_grad():
        want_a, want_b = nets["G_A"](x), nets["G_B"](x)
    for source in (tmp_path, tmp_path / "checkpoints/latest", tmp_path / "checkpoints/epoch_0001",
                   tmp_path / "checkpoints/latest/G_A.safetensors"):
        net, spec = load_generator(source)
        assert spec == TINY and not net.training
        with torch.no_grad():
            assert torch.equal(net(x), want_a)
    net, _ = load_generator(tmp_path, which="G_B")
    with torch.no_grad():
        assert torch.equal(net(x), want_b)


def test_replaced_latest_and_interrupted_publish(tmp_path):
    _write_run(tmp_path, seed=0)
    nets2 = _write_run(tmp_path, seed=1)  # latest replaced by the second save
    with torch.no_grad():
        assert torch.equal(load_generator(tmp_path)[0](_x()), nets2["G_A"](_x()))
    # a crash between the two renames: only .latest.old exists
    ckpts = tmp_path / "checkpoints"
    (ckpts / "latest").rename(ckpts / ".latest.old")
    assert find_checkpoint_dir(tmp_path) == ckpts / ".latest.old"


def _reference_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, n_blocks: int) -> torch.Tensor:
    """The reference ResnetGenerator written out functionally from its key names, independent of networks.py."""

    def conv(h, i, pad=0, stride=1):
        if pad:
            h = F.pad(h, (pad,) * 4, mode="reflect")
        return F.conv2d(h, sd[f"model.{i}.weight"], sd[f"model.{i}.bias"], stride=stride, padding=0 if pad else 1)

    h = F.relu(F.instance_norm(conv(x, 1, pad=3)))
    h = F.relu(F.instance_norm(conv(h, 4, stride=2)))
    h = F.relu(F.instance_norm(conv(h, 7, stride=2)))
    for b in range(n_blocks):
        p = f"model.{10 + b}.conv_block"
        r = F.pad(h, (1,) * 4, mode="reflect")
        r = F.relu(F.instance_norm(F.conv2d(r, sd[f"{p}.1.weight"], sd[f"{p}.1.bias"])))
        r = F.pad(r, (1,) * 4, mode="reflect")
        h = h + F.instance_norm(F.conv2d(r, sd[f"{p}.5.weight"], sd[f"{p}.5.bias"]))
    for i in (10 + n_blocks, 13 + n_blocks):
        h = F.conv_transpose2d(h, sd[f"model.{i}.weight"], sd[f"model.{i}.bias"], stride=2, padding=1, output_padding=1)
        h = F.relu(F.instance_norm(h))
    return torch.tanh(conv(h, 17 + n_blocks, pad=3))


def _reference_state_dict(ngf: int, n_blocks: int, seed: int = 3) -> dict[str, torch.Tensor]:
    """A state dict as the reference writes it: DataParallel prefix and old InstanceNorm buffers included."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"model.1": (ngf, 3, 7, 7), "model.4": (ngf * 2, ngf, 3, 3), "model.7": (ngf * 4, ngf * 2, 3, 3)}
    for b in range(n_blocks):
        shapes[f"model.{10 + b}.conv_block.1"] = (ngf * 4, ngf * 4, 3, 3)
        shapes[f"model.{10 + b}.conv_block.5"] = (ngf * 4, ngf * 4, 3, 3)
    shapes[f"model.{10 + n_blocks}"] = (ngf * 4, ngf * 2, 3, 3)  # ConvTranspose: (in, out, k, k)
    shapes[f"model.{13 + n_blocks}"] = (ngf * 2, ngf, 3, 3)
    shapes[f"model.{17 + n_blocks}"] = (3, ngf, 7, 7)
    sd: dict[str, torch.Tensor] = {}
    for name, shape in shapes.items():
        out_ch = shape[1] if name in (f"model.{10 + n_blocks}", f"model.{13 + n_blocks}") else shape[0]
        sd[f"module.{name}.weight"] = torch.randn(shape, generator=g) * 0.05
        sd[f"module.{name}.bias"] = torch.randn(out_ch, generator=g) * 0.05
    sd["module.model.2.running_mean"] = torch.zeros(ngf)
    sd["module.model.2.running_var"] = torch.ones(ngf)
    sd["module.model.10.conv_block.2.num_batches_tracked"] = torch.tensor(0)
    return sd


def test_reference_pth_state_dict_loads_and_matches_reference_output(tmp_path):
    sd = _reference_state_dict(ngf=8, n_blocks=2)
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(sd, path)
    net, spec = load_generator(path, spec=TINY)
    assert spec == TINY
    x = _x()
    clean = {k.removeprefix("module."): v for k, v in sd.items()}
    with torch.no_grad():
        got, want = net(x), _reference_forward(clean, x, n_blocks=2)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # export to the reference format and load it back: same weights, same output
    out = export_reference_pth(net, tmp_path / "export" / "latest_net_G_A.pth")
    exported = torch.load(out, weights_only=True)
    assert set(exported) == {k for k in clean if "running" not in k and "num_batches" not in k}
    net2, _ = load_generator(out, spec=TINY)
    with torch.no_grad():
        assert torch.equal(net2(x), got)


def test_reference_default_architecture_without_spec(tmp_path):
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(_reference_state_dict(ngf=64, n_blocks=9), path)
    net, spec = load_generator(path)
    assert spec == GeneratorSpec()
    assert sum(p.numel() for p in net.parameters()) == 11_378_179


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_carrying_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "latest_net_G_A.pth"
    torch.save({"model.1.weight": torch.zeros(1), "payload": _Evil(marker)}, path)
    with pytest.raises(CheckpointError, match="refused") as err:
        load_generator(path, spec=TINY)
    assert not marker.exists()
    # the message must not pass on torch's advice to switch the safety check off
    assert "weights_only=False" not in str(err.value) and "will likely succeed" not in str(err.value)


def test_spec_hint_survives_sorted_keys():
    state = GeneratorSpec(ngf=16, n_blocks=3).build().state_dict()
    assert infer_generator_spec(dict(sorted(state.items()))) == GeneratorSpec(ngf=16, n_blocks=3)


def test_mismatched_architecture_names_keys_and_shapes(tmp_path):
    _write_run(tmp_path)
    with pytest.raises(CheckpointError) as err:
        load_generator(tmp_path, spec=GeneratorSpec(ngf=16, n_blocks=3))
    msg = str(err.value)
    assert "model.1.weight: checkpoint (8, 3, 7, 7) vs model (16, 3, 7, 7)" in msg
    assert "missing keys" in msg and "model.12.conv_block.1.weight" in msg
    assert "ngf=8, n_blocks=2" in msg  # the hint names what the file looks like
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(_reference_state_dict(ngf=8, n_blocks=2), path)
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_generator(path, spec=GeneratorSpec())  # an explicit reference default (ngf 64) does not fit


def test_missing_and_garbage_files_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        load_generator(tmp_path)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="without a complete checkpoint"):
        load_generator(tmp_path / "run")
    bad = tmp_path / "G_A.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_generator(bad)
    bad_pth = tmp_path / "x.pth"
    bad_pth.write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError):
        load_generator(bad_pth)
    with pytest.raises(CheckpointError, match="which"):
        load_generator(bad, which="D_A")
    with pytest.raises(CheckpointError, match="not a resumable"):
        load_state(tmp_path)


# --------------------------------------------------------------------------- interop polish (issue 16, part 4)


def test_pixelate_reads_a_reference_checkpoint_folder(tmp_path):
    """`train --init-from` took the reference's checkpoints/NAME/ folder; loading for inference does too."""
    folder = tmp_path / "checkpoints" / "px"
    folder.mkdir(parents=True)
    torch.save(_reference_state_dict(ngf=8, n_blocks=2, seed=1), folder / "latest_net_G_A.pth")
    torch.save(_reference_state_dict(ngf=8, n_blocks=2, seed=2), folder / "latest_net_G_B.pth")
    a, spec = load_generator(folder)
    b, _ = load_generator(folder, which="G_B")
    assert spec == TINY  # the width and depth come from the tensors: no spec needed
    assert not torch.equal(a.state_dict()["model.1.weight"], b.state_dict()["model.1.weight"])
    only_test = tmp_path / "test_model"  # the reference's `--model test` names its file latest_net_G.pth
    only_test.mkdir()
    torch.save(_reference_state_dict(ngf=8, n_blocks=2, seed=1), only_test / "latest_net_G.pth")
    c, _ = load_generator(only_test)
    assert torch.equal(a.state_dict()["model.1.weight"], c.state_dict()["model.1.weight"])
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        load_generator(tmp_path / "checkpoints")


def test_which_is_not_silently_ignored_for_one_file(tmp_path):
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(_reference_state_dict(ngf=8, n_blocks=2), path)
    with pytest.raises(CheckpointError, match="chooses within a folder"):
        load_generator(path, which="G_B")


def test_a_non_default_pth_loads_without_a_spec_and_hints_in_cli_terms(tmp_path):
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(_reference_state_dict(ngf=8, n_blocks=2), path)
    assert load_generator(path)[1] == TINY
    with pytest.raises(CheckpointError) as err:
        load_generator(path, spec=GeneratorSpec(ngf=16, n_blocks=3))
    assert "--ngf 8 --n-blocks 2" in str(err.value) and "pass spec=" not in str(err.value)


def test_export_writes_what_the_reference_test_model_loads(tmp_path):
    from training.cli import main as train_main

    _write_run(tmp_path / "run")
    assert train_main(["export", str(tmp_path / "run"), "--to", str(tmp_path / "ref")]) == 0
    names = sorted(p.name for p in (tmp_path / "ref").iterdir())
    assert names == ["latest_net_D_A.pth", "latest_net_D_B.pth", "latest_net_G.pth", "latest_net_G_A.pth",
                     "latest_net_G_B.pth"]
    g = torch.load(tmp_path / "ref" / "latest_net_G.pth", weights_only=True)
    g_a = torch.load(tmp_path / "ref" / "latest_net_G_A.pth", weights_only=True)
    assert g.keys() == g_a.keys() and all(torch.equal(g[k], g_a[k]) for k in g)


def test_the_same_weights_are_the_same_bytes_in_every_process(tmp_path):
    """safetensors writes its metadata in a per-process hash order; a published model must not churn."""
    script = (
        "import sys, torch\n"
        "from pixelforge.model.checkpoint import copy_network, generator_metadata, save_network\n"
        "from pixelforge.model.networks import GeneratorSpec, init_weights\n"
        "torch.manual_seed(0)\n"
        "spec = GeneratorSpec(ngf=4, n_blocks=1)\n"
        "save_network(init_weights(spec.build()), sys.argv[1] + '.safetensors', generator_metadata(spec, 'AtoB', 32))\n"
        "copy_network(sys.argv[1] + '.safetensors', sys.argv[1] + '-fp16.safetensors', fp16=True, extra={'pixels_per_cell': '2'})\n"
    )
    for name in ("one", "two", "three"):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], check=True, cwd=Path(__file__).parents[1])
    for suffix in (".safetensors", "-fp16.safetensors"):
        blobs = {(tmp_path / f"{n}{suffix}").read_bytes() for n in ("one", "two", "three")}
        assert len(blobs) == 1, suffix
    net, spec = load_generator(tmp_path / "one-fp16.safetensors")
    assert (spec.ngf, spec.n_blocks) == (4, 1)
    with safe_open(str(tmp_path / "one.safetensors"), framework="pt") as fh:
        assert fh.metadata()["direction"] == "AtoB"


def test_the_long_skip_is_recorded_only_when_set_and_read_back(tmp_path):
    spec = GeneratorSpec(ngf=8, n_blocks=2, skip=1)
    meta = generator_metadata(spec, "AtoB", 32)
    assert meta["skip"] == "1" and "skip" not in generator_metadata(TINY, "AtoB", 32)  # old files stay byte-identical
    torch.manual_seed(3)
    net = init_weights(spec.build()).eval()
    save_network(net, tmp_path / "G_A.safetensors", meta)
    loaded, got = load_generator(tmp_path / "G_A.safetensors")
    x = _x()
    with torch.no_grad():
        assert got == spec and torch.equal(loaded(x), net(x))
    assert infer_generator_spec(net.state_dict()) == spec
    assert infer_generator_spec(TINY.build().state_dict()) == TINY
    # a skip file claimed as plain names the extra keys and the architecture it looks like
    with pytest.raises(CheckpointError, match="unexpected keys: skip.1.bias, skip.1.weight") as err:
        load_generator(tmp_path / "G_A.safetensors", spec=TINY)
    assert "with the long skip" in str(err.value) and "--ngf" not in str(err.value)  # pixelate has no skip flag
    with pytest.raises(CheckpointError, match="lacks"):
        export_reference_pth(net, tmp_path / "latest_net_G_A.pth")
    with pytest.raises(CheckpointError, match="skip=2"):
        load_generator(tmp_path / "G_A.safetensors", spec=GeneratorSpec(ngf=8, n_blocks=2, skip=2))


def test_a_model_card_says_when_the_generator_has_the_long_skip():
    from training.model_card import CardInputs, build_model_card

    def card(skip: int) -> str:
        return build_model_card(CardInputs(repo_id="o/n", spec=GeneratorSpec(ngf=8, n_blocks=2, skip=skip), params=10,
                                           dtype="float16", files=[], domains=[], config=None, counters=None, metrics=None))

    assert "long skip" in card(1) and "not the reference's code" in card(1)
    assert "long skip" not in card(0)


def test_a_model_card_shows_skip_lr_only_for_a_skip_model():
    from training.model_card import CardInputs, build_model_card

    def card(skip: bool) -> str:
        config = {"ngf": 8, "n_blocks": 2, "skip": skip, "skip_lr": 10.0 if skip else 1.0}
        return build_model_card(CardInputs(repo_id="o/n", spec=GeneratorSpec(ngf=8, n_blocks=2, skip=int(skip)), params=10,
                                           dtype="float16", files=[], domains=[], config=config, counters=None, metrics=None))

    assert "skip_lr" in card(True) and "`10.0`" in card(True)
    assert "skip_lr" not in card(False)


def test_a_model_card_shows_content_lines_contrast_only_with_content_lines_and_keeps_switched_off_options():
    from training.model_card import CardInputs, build_model_card

    def card(lines: bool) -> str:
        config = {"ngf": 8, "skip": False, "content_lines": lines, "content_lines_contrast": 20.0, "b_balance": ""}
        return build_model_card(CardInputs(repo_id="o/n", spec=GeneratorSpec(ngf=8, n_blocks=2), params=10,
                                           dtype="float16", files=[], domains=[], config=config, counters=None, metrics=None))

    assert "content_lines_contrast" in card(True) and "content_lines_contrast" not in card(False)
    assert "b_balance" in card(False) and "skip" in card(False)  # switched-off options are still shown


def test_a_model_card_shows_the_view_losses_only_when_they_are_on():
    from training.model_card import CardInputs, build_model_card

    def card(weight: float) -> str:
        config = {"ngf": 8, "lambda_flat": 0.0, "lambda_sym": weight, "lambda_distill": weight}
        return build_model_card(CardInputs(repo_id="o/n", spec=GeneratorSpec(ngf=8, n_blocks=2), params=10,
                                           dtype="float16", files=[], domains=[], config=config, counters=None, metrics=None))

    assert "| `lambda_distill` | `100.0` |" in card(100.0) and "| `lambda_sym` | `100.0` |" in card(100.0)
    assert "lambda_distill" not in card(0.0) and "lambda_sym" not in card(0.0) and "lambda_flat" in card(0.0)


def test_a_model_card_shows_a_time_limit_only_when_the_run_had_one():
    from training.model_card import CardInputs, build_model_card

    def card(limit: str | None) -> str:
        config = {"ngf": 8, "epochs": 1, "time_limit": limit}
        return build_model_card(CardInputs(repo_id="o/n", spec=GeneratorSpec(ngf=8, n_blocks=2), params=10,
                                           dtype="float16", files=[], domains=[], config=config, counters=None, metrics=None))

    assert '| `time_limit` | `"40m"` |' in card("40m") and "time_limit" not in card(None)
