"""The typed training configuration: defaults < TOML file < command line.

One frozen dataclass holds every knob (the reference's defaults), is written to
``runs/NAME/config.json`` and read back on ``--resume``. Nothing else passes option bags around.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pixelforge.config import ConfigError, apply, read_toml
from pixelforge.io import atomic_write
from pixelforge.model.networks import DiscriminatorSpec, GeneratorSpec
from pixelforge.model.recorded import MODEL_INPUTS
from training.outlines import CONTRAST
from training.timeplan import decay_factor, parse_duration

#: Fields that define the model and the data stream: a resume may not change them.
ARCHITECTURE_FIELDS = ("ngf", "n_blocks", "skip", "skip_lr", "ndf", "n_layers", "size", "batch_size", "seed", "a_resize", "b_max_scale", "a_min_load_size",
                       "b_balance", "b_scale")
#: How the lr falls in the decay epochs: once per epoch (the reference) or per optimizer step.
LR_DECAYS = ("epoch", "step")
#: a_resize values that crop the picture at twice the size and halve it as pixelate does (the picture is kept for
#: content_target): the generator inputs pixelate can build, "lines" and those a model records (MODEL_INPUTS)
HALVED = MODEL_INPUTS


def _either(names: tuple[str, ...]) -> str:
    """``a, b or c``: the values an error message offers, from the tuple that defines them."""
    return f"{', '.join(names[:-1])} or {names[-1]}"


def min_size(n_layers: int) -> int:
    """Smallest multiple of 4 whose ``n_layers`` PatchGAN output is not empty (24 for the reference's 3).

    Each stride-2 conv (kernel 4, padding 1) maps ``s`` to ``s // 2``; the next stride-1 conv takes 1 and is
    instance-normalised, which needs at least 2x2; the generator's own norms need ``size >= 8``.
    """
    size = 8
    while (size >> n_layers) - 1 < 2:
        size += 4
    return size


@dataclass(frozen=True)
class TrainConfig:
    # data
    domain_a: str = ""  # Hub id, dataset folder (curation output), image folder, or reference root with trainA/
    domain_b: str = ""  # same; pixel art (domain B) keeps its pixel grid
    split: str = "train"  # split used from dataset folders and Hub datasets
    output: str = ""  # run folder, e.g. runs/NAME
    size: int = 256  # training crop (square)
    load_size: int = 286  # domain A: shorter side resized to this, then a random size crop (reference: 286)
    flip: bool = True  # random horizontal flips (both domains; a flip keeps the pixel grid)
    a_resize: str = "bicubic"  # domain A downscale: bicubic (reference) | box (area average) | lines (box keeping thin features, as pixelate's model path)
    #                            | cells (lines, with the picture's feature cells drawn in as blocks) | dark-cells (dark ones only)
    #                            | classic-dark-cells (dark ones where the classical method also has a dark line)
    #                            | classic-line-cells (dark ones where the classical method has a line, dark or a highlight)
    #                            | classic-thin-cells (classic-line-cells less highlight cells beside a dark line cell)
    b_max_scale: int = 0  # domain B: largest integer NN scale (0 = largest that fits the crop; 1 = native pixels)
    a_min_load_size: int = 0  # > 0: domain A's shorter side is drawn from a_min_load_size..load_size (scale jitter)
    b_scale: int = 0  # domain B: every art pixel exactly this many pixels wide (for a model run at that many per cell; 0 = off)
    b_balance: str = ""  # a domain B column whose values are drawn equally often (sha256: each original file; source)
    workers: int = 2  # DataLoader worker processes (0 = load in the main process)
    # model (reference defaults)
    ngf: int = 64
    n_blocks: int = 9
    skip: bool = False  # generators get a long skip from the full-resolution stem (not in the reference)
    skip_lr: float = 1.0  # the skip's learning rate as a multiple of lr (its own optimizer group when not 1)
    ndf: int = 64
    n_layers: int = 3
    init_gain: float = 0.02
    # recipe
    batch_size: int = 1  # per process
    epochs: int = 100  # epochs at the initial learning rate
    epochs_decay: int = 100  # epochs of linear decay to zero
    lr_decay: str = "epoch"  # epoch: the reference's rule, one lr per epoch; step: linear per optimizer step, to ~0
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_a: float = 10.0  # cycle loss weight A -> B -> A
    lambda_b: float = 10.0  # cycle loss weight B -> A -> B
    lambda_identity: float = 0.5  # identity loss weight, relative to lambda_a/b
    lambda_content: float = 0.0  # colour-keeping loss: L1 between each generator's input and output, averaged over
    content_pool: int = 4  # content_pool x content_pool blocks (0 weight = the reference recipe)
    content_salience: float = 0.0  # colour-keeping weight of a block rises by this per unit of contrast with its neighbours; 0 = even
    content_lines: bool = False  # G_A's colour-keeping target gives blocks on thin features their colour (classical outline cells)
    content_lines_contrast: float = CONTRAST  # with content_lines: the smallest feature contrast, in lightness levels of 255
    content_target: str = "input"  # with content_lines and a_resize "lines": find the outline target in the "input" or the full "picture"
    content_reduce: str = "mean"  # G_A's colour-keeping target per block: the "mean" (blends edges) or "medoid" (one of its pixels) of the input or picture
    lambda_flat: float = 0.0  # flat-shading loss: G_A's pixel steps where its input is flat (texture, speckle); 0 = off
    lambda_distill: float = 0.0  # views distillation: G_A draws a crop as init_from's G_A draws it averaged over 8 views (pixelate --views 8, in one pass); 0 = off
    lambda_line: float = 0.0  # line loss: the contrast G_A's cells lack on the colour-keeping target's thin lines, per line cell (training.outlines.line_loss); 0 = off
    line_contrast: float = 20.0  # with lambda_line: the smallest top-hat, in lightness levels of 255, of a target cell that is a line
    lambda_speck: float = 0.0  # speck loss: how much farther a G_A cell's most alike neighbour is than its target cell's (training.specks); 0 = off
    lambda_sym: float = 0.0  # symmetry loss: G_A draws a mirrored, flipped or transposed crop as that view of its drawing (pixelate --views, learnt); 0 = off
    pool_size: int = 50  # past fakes per domain shown to the discriminators
    max_steps: int | None = None  # stop after this many optimizer steps in total (resume included)
    time_limit: str | int | None = None  # fit the run to this much training time: "2h", "90m", "1h30m", or seconds (600 or "600"); steps from the measured speed, annealed by the end
    # speed
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = False  # mixed precision (autocast): on CUDA, and on CPUs with bf16 instructions
    amp_dtype: str = "bf16"  # bf16 | fp16 (fp16 uses a gradient scaler)
    channels_last: bool | None = None  # None = on with CUDA, off on CPU
    compile: bool = False  # torch.compile the four networks
    compile_mode: str = "default"  # torch.compile mode: default | reduce-overhead (CUDA graphs) | max-autotune
    # bookkeeping
    seed: int = 0
    save_epoch_freq: int = 5  # keep checkpoints/epoch_NNNN every this many epochs (latest is every epoch)
    save_latest_steps: int = 5000  # also refresh checkpoints/latest every this many steps (0 = only per epoch)
    n_samples: int = 4  # sample translations per epoch in index.html (0 = none)
    tensorboard: bool = False
    resume: str | None = None  # a run folder to continue (set by --resume)
    init_from: str | None = None  # start from these weights (our run/checkpoint, or reference latest_net_*.pth)

    # ----------------------------------------------------------------- derived

    @property
    def generator_spec(self) -> GeneratorSpec:
        return GeneratorSpec(ngf=self.ngf, n_blocks=self.n_blocks, skip=int(self.skip))

    @property
    def discriminator_spec(self) -> DiscriminatorSpec:
        return DiscriminatorSpec(ndf=self.ndf, n_layers=self.n_layers)

    @property
    def total_epochs(self) -> int:
        return self.epochs + self.epochs_decay

    @property
    def time_limit_s(self) -> float | None:
        """``time_limit`` in seconds (None: the run counts epochs)."""
        if self.time_limit is None:
            return None
        try:
            return parse_duration(str(self.time_limit))
        except ValueError as exc:
            raise ConfigError(f"time_limit: {exc}") from exc

    def lr_at(self, epoch: int) -> float:
        """The reference's ``lambda_rule`` (0-based epoch): constant, then linear towards zero.

        It steps once per epoch and never reaches zero: a single decay epoch runs at half the lr throughout.
        """
        return self.lr * decay_factor(epoch, self.epochs, self.epochs_decay)

    def lr_at_step(self, step: int, steps_per_epoch: int) -> float:
        """``lr_decay = "step"``: the same ramp per 0-based optimizer ``step``, so a short fine-tune (one decay
        epoch) anneals from ``lr`` to ~0 instead of running flat at half of it.
        """
        return self.lr * decay_factor(step, self.epochs * steps_per_epoch, self.epochs_decay * steps_per_epoch)

    # ----------------------------------------------------------------- checks and I/O

    def validate(self) -> TrainConfig:
        """Raise ConfigError on values that would fail later, far from their cause."""
        if not self.domain_a:
            raise ConfigError("--domain-a is required (an image folder, dataset folder or Hub id)")
        if not self.domain_b:
            raise ConfigError("--domain-b is required (unless --domain-a is a folder with trainA/ and trainB/)")
        if not self.output:
            raise ConfigError("--output is required (the run folder, e.g. runs/NAME)")
        positive = ("size", "load_size", "ngf", "ndf", "n_layers", "batch_size", "save_epoch_freq")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.size % 4:
            raise ConfigError(f"size must be a multiple of 4 (two stride-2 convolutions), got {self.size}")
        if self.size < min_size(self.n_layers):
            raise ConfigError(f"size {self.size} is too small for a {self.n_layers}-layer PatchGAN: its output would be "
                              f"empty; use --size {min_size(self.n_layers)} or more (or fewer --n-layers)")
        if not (math.isfinite(self.init_gain) and self.init_gain > 0):
            raise ConfigError(f"init_gain must be a finite number > 0, got {self.init_gain}")
        for name in ("lr", "lambda_a", "lambda_b", "lambda_identity", "lambda_content", "content_salience", "lambda_flat",
                     "lambda_sym", "lambda_distill", "lambda_line", "lambda_speck"):  # lr 0 freezes the weights (a check run)
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:  # NaN fails this too
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 1 <= self.ngf <= 1024 or not 1 <= self.ndf <= 1024 or self.n_blocks > 64 or self.n_layers > 8:
            raise ConfigError("ngf/ndf must be 1..1024, n_blocks 0..64 and n_layers 1..8 "
                              f"(got {self.ngf}, {self.ndf}, {self.n_blocks}, {self.n_layers})")
        for name in ("content_lines_contrast", "line_contrast"):
            if not (math.isfinite(getattr(self, name)) and 0 < getattr(self, name) <= 255):
                raise ConfigError(f"{name} must be in (0, 255] lightness levels, got {getattr(self, name)}")
        if self.lambda_speck > 0 and self.lambda_content <= 0:
            raise ConfigError("lambda_speck needs lambda_content > 0: a drawing asked only to have no specks may flatten "
                              "into one colour; the colour-keeping loss holds the colours")
        if self.lambda_line > 0 and self.lambda_content <= 0:
            raise ConfigError("lambda_line needs lambda_content > 0: a drawing asked for lines' contrast alone may darken "
                              "them to any colour; the colour-keeping loss holds the colours")
        if self.content_target not in ("input", "picture"):
            raise ConfigError(f"content_target must be input or picture, got {self.content_target!r}")
        if self.content_target == "picture" and not (self.content_lines and self.a_resize in HALVED and self.lambda_content > 0):
            raise ConfigError(f"content_target = picture needs content_lines, a_resize = {_either(HALVED)} and lambda_content > 0: "
                              "the picture before halving exists only with those")
        if self.content_reduce not in ("mean", "medoid"):
            raise ConfigError(f"content_reduce must be mean or medoid, got {self.content_reduce!r}")
        if not (math.isfinite(self.skip_lr) and self.skip_lr > 0):
            raise ConfigError(f"skip_lr must be a finite number > 0, got {self.skip_lr}")
        if self.skip_lr != 1 and not self.skip:
            raise ConfigError(f"skip_lr {self.skip_lr:g} needs skip = true (--skip): without the long skip there is nothing to scale")
        if self.lambda_distill > 0 and not self.init_from:
            raise ConfigError("lambda_distill needs init_from (--init-from): the teacher is the G_A it starts from")
        if self.lr_decay not in LR_DECAYS:
            raise ConfigError(f"lr_decay must be one of {', '.join(LR_DECAYS)}, got {self.lr_decay!r}")
        if not 1 <= self.content_pool <= self.size:
            raise ConfigError(f"content_pool must be 1..size ({self.size}), got {self.content_pool}")
        if self.load_size < self.size:
            raise ConfigError(f"load_size ({self.load_size}) must be >= size ({self.size})")
        for name in ("epochs", "epochs_decay", "n_blocks", "pool_size", "workers", "n_samples", "save_latest_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.total_epochs < 1:
            raise ConfigError("epochs + epochs_decay must be >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.time_limit is not None:
            self.time_limit_s  # noqa: B018 - parse now, so a bad --time-limit fails before any work
        if self.compile_mode not in ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"):
            raise ConfigError(f"compile_mode must be default, reduce-overhead or max-autotune, got {self.compile_mode!r}")
        if self.a_resize not in ("bicubic", "box", *HALVED):
            raise ConfigError(f"a_resize must be {_either(('bicubic', 'box', *HALVED))}, got {self.a_resize!r}")
        if not 0 <= self.a_min_load_size <= self.load_size:
            raise ConfigError(f"a_min_load_size must be 0 (off) or at most load_size, got {self.a_min_load_size}")
        if self.b_max_scale < 0:
            raise ConfigError(f"b_max_scale must be >= 0 (0 = largest that fits), got {self.b_max_scale}")
        if not 0 <= self.b_scale <= self.size // 4:
            raise ConfigError(f"b_scale must be 0 (off) or at most size / 4 = {self.size // 4}, got {self.b_scale}")
        if self.amp_dtype not in ("bf16", "fp16"):
            raise ConfigError(f"amp_dtype must be bf16 or fp16, got {self.amp_dtype!r}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        return self

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def save(self, path: str | Path) -> None:
        atomic_write(path, self.to_json())

    @classmethod
    def from_mapping(cls, values: dict[str, Any], *, where: str = "config") -> TrainConfig:
        return cls().merged(values, where=where)

    def merged(self, values: dict[str, Any], *, where: str = "config") -> TrainConfig:
        """A copy with ``values`` applied (keys may use - or _); unknown keys and wrong types are errors."""
        try:
            return apply(self, values, dashes=True)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a ``train.toml``; options may sit at top level or under a ``[train]`` table."""
    data = read_toml(path)
    if isinstance(data.get("train"), dict):
        data = {**{k: v for k, v in data.items() if k != "train"}, **data["train"]}
    return data


def load_run_config(run: str | Path) -> TrainConfig:
    """The resolved config a run folder was started with."""
    path = Path(run) / "config.json"
    if not path.is_file():
        raise ConfigError(f"cannot resume: {path} not found (is {run} a run folder?)")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"cannot resume: {path} is not valid JSON: {exc}") from exc
    return TrainConfig.from_mapping(values, where=str(path))
