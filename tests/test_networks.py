import torch

from pixelforge.model.networks import (
    DiscriminatorSpec,
    GeneratorSpec,
    NLayerDiscriminator,
    ResnetGenerator,
    count_parameters,
    init_weights,
)


def test_reference_generator_size_and_key_names():
    g = ResnetGenerator(ngf=64, n_blocks=9)
    assert abs(count_parameters(g) - 11.378e6) < 0.01e6
    keys = set(g.state_dict())
    assert "model.10.conv_block.5.weight" in keys
    assert "model.1.weight" in keys and "model.26.bias" in keys
    assert not any("running_mean" in k for k in keys)


def test_generator_macs_at_256():
    g = ResnetGenerator()
    macs = 0

    def hook(mod, inp, out):
        nonlocal macs
        if isinstance(mod, torch.nn.Conv2d):
            macs += out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1] // mod.groups
        elif isinstance(mod, torch.nn.ConvTranspose2d):
            macs += inp[0].numel() * mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1]

    for m in g.modules():
        m.register_forward_hook(hook)
    with torch.no_grad():
        out = g(torch.zeros(1, 3, 256, 256))
    assert out.shape == (1, 3, 256, 256)
    assert abs(macs / 1e9 - 49.6) < 0.5, macs / 1e9


def test_patchgan_is_70x70_and_shapes():
    d = NLayerDiscriminator()
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    # receptive field: perturbing one input pixel changes only outputs within 70 px
    assert "model.0.weight" in d.state_dict() and "model.11.weight" in d.state_dict()


def test_specs_and_init():
    torch.manual_seed(0)
    g = init_weights(GeneratorSpec(ngf=8, n_blocks=2).build())
    w = g.model[1].weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.005 and float(g.model[1].bias.detach().abs().sum()) == 0
    out = g(torch.rand(2, 3, 32, 48) * 2 - 1)
    assert out.shape == (2, 3, 32, 48) and out.abs().max() <= 1
    assert DiscriminatorSpec(ndf=8).build()(torch.zeros(1, 3, 32, 32)).dim() == 4


def test_the_long_skip_adds_only_its_own_keys_and_reaches_fine_detail():
    torch.manual_seed(0)
    plain = init_weights(GeneratorSpec(ngf=8, n_blocks=2).build()).eval()
    skip = GeneratorSpec(ngf=8, n_blocks=2, skip=1).build().eval()
    extra = set(skip.state_dict()) - set(plain.state_dict())
    assert extra == {"skip.1.weight", "skip.1.bias"}  # the model.* keys stay the reference's
    x = torch.rand(1, 3, 32, 40) * 2 - 1
    skip.load_state_dict({**plain.state_dict(), "skip.1.weight": torch.zeros(3, 8, 3, 3), "skip.1.bias": torch.zeros(3)})
    with torch.no_grad():
        assert torch.equal(skip(x), plain(x))  # zeroed, it computes exactly what the plain net does
        torch.nn.init.normal_(skip.skip[1].weight, 0.0, 0.5)
        # a one-pixel dot reaches the output at full resolution: its effect is sharpest at the dot itself
        dot = x.clone()
        dot[..., 16, 20] = -1.0
        change = (skip(dot) - skip(x)).abs().sum(1)[0]
    assert change.argmax().item() == 16 * 40 + 20
