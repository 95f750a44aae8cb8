import os

import pytest
import torch

from training.checkpoint import CheckpointError, infer_generator_spec, load_generator
from training.networks import GeneratorSpec


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_infer_spec_from_sorted_keys():
    state = GeneratorSpec(ngf=16, n_blocks=3).build().state_dict()
    sorted_state = dict(sorted(state.items()))
    assert infer_generator_spec(sorted_state) == GeneratorSpec(ngf=16, n_blocks=3)


def test_refused_pickle_does_not_advise_disabling_the_check(tmp_path):
    path = tmp_path / "latest_net_G_A.pth"
    torch.save({"x": _Evil()}, path)
    with pytest.raises(CheckpointError) as err:
        load_generator(path)
    message = str(err.value)
    assert "refused" in message
    assert "weights_only=False" not in message and "will likely succeed" not in message
