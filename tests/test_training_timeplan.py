"""`train --time-limit`: the run's steps fitted to a time budget, annealed by its end, resumable."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest

from tests.test_training import _offline, tiny  # noqa: F401 - _offline: the autouse fixture (offline, one thread)
from training.cli import build_parser, resolve_config
from training.config import ConfigError, TrainConfig
from training.loop import train
from training.run_outputs import summary_lines
from training.timeplan import MARGIN, MEASURE_STEPS, TimePlan, format_duration, parse_duration


def simulate(plan: TimePlan, seconds_per_step, start_step: int = 0, limit_steps: int = 100_000) -> tuple[int, float, list[float]]:
    """Run ``plan`` on a fake clock: step k takes ``seconds_per_step(k)``; returns the steps, the time and the lr
    factors, as the loop asks for them."""
    now, step, factors = 0.0, start_step, []
    plan.start(step, now)
    while not plan.done(step) and step < limit_steps:
        factors.append(plan.lr_factor(step))
        now += seconds_per_step(step)
        step += 1
        if not plan.fixed:
            plan.update(step, now)
    return step, now, factors


def test_durations_read_as_people_write_them():
    assert parse_duration("2h") == 7200 and parse_duration("90m") == 5400 and parse_duration("1h30m") == 5400
    assert parse_duration("45s") == 45 and parse_duration("600") == 600 and parse_duration(" 1.5H ") == 5400
    for bad in ("", "soon", "2d", "h", "0", "-5m", "1h-30m"):
        with pytest.raises(ValueError, match="duration|longer than 0"):
            parse_duration(bad)
    assert [format_duration(s) for s in (12, 245, 2400, 7080)] == ["12s", "4m05s", "40m", "1h58m"]


@pytest.mark.parametrize("base_share", [0.0, 0.5, 0.8, 1.0])
def test_a_steady_run_fills_the_budget_and_anneals_to_zero_at_its_last_step(base_share):
    plan = TimePlan(limit_s=100.0, base_share=base_share)
    steps, now, factors = simulate(plan, lambda k: 0.1)  # 10 steps/s: 1,000 steps fit
    assert steps == plan.total and MARGIN * 1000 - 2 <= steps <= 1000
    assert now <= 100.0 and plan.describe(now).endswith(" spent")
    assert plan.decay_start == pytest.approx(max(MEASURE_STEPS, steps * base_share), abs=2)
    flat = factors[: plan.decay_start]
    assert flat == [1.0] * len(flat)
    ramp = factors[plan.decay_start:]
    if ramp:
        assert all(a > b for a, b in zip(ramp, ramp[1:])) and ramp[-1] == pytest.approx(1 / (len(ramp) + 1))


def test_a_slow_start_does_not_shorten_the_run_the_plan_follows_the_speed_until_the_decay():
    # the first 50 steps take 1 s each (warm-up, a cold cache), then 0.1 s: a plan fixed on the first 20 steps would
    # stop at a third of the budget
    plan = TimePlan(limit_s=200.0, base_share=0.5)
    steps, now, _ = simulate(plan, lambda k: 1.0 if k < 50 else 0.1)
    assert now <= 200.0 and now >= 0.9 * 200
    assert steps > 1300


def test_a_run_that_slows_down_in_its_decay_still_anneals_and_says_by_how_much_it_ran_over():
    plan = TimePlan(limit_s=100.0, base_share=0.5)
    steps, now, factors = simulate(plan, lambda k: 0.1 if k < 500 else 0.12)
    assert steps == plan.total and factors[-1] < 0.01
    assert 100 < now < 112  # the plan is kept: an unannealed model is worth less than a few seconds
    assert plan.describe(now).endswith(f"{format_duration(now)} spent, {format_duration(now - 100)} over: the decay ran "
                                       "slower than the first half")


def test_time_spent_before_a_resume_counts_and_an_exhausted_budget_stops_at_once():
    fresh, resumed = TimePlan(100.0, 0.5), TimePlan(100.0, 0.5, spent_s=60.0)
    simulate(fresh, lambda k: 0.1)
    simulate(resumed, lambda k: 0.1)
    assert resumed.total == pytest.approx(0.4 * fresh.total, abs=2)
    spent = TimePlan(100.0, 0.5, spent_s=100.0)
    steps, _, _ = simulate(spent, lambda k: 0.1, start_step=40)
    assert spent.fixed and steps == spent.total == 41  # one step to find the time is up, none more


def test_a_fixed_plan_from_a_checkpoint_is_followed_not_replanned():
    plan = TimePlan.for_recipe(100.0, epochs=1, epochs_decay=1, spent_s=30.0, total=500, decay_start=250)
    steps, _, factors = simulate(plan, lambda k: 10.0, start_step=300)  # far slower now: the plan still holds
    assert steps == 500 and factors[0] == pytest.approx(1 - 51 / 251)


def test_a_time_limited_run_stops_on_time_annealed_and_a_resume_finishes_the_same_plan(tmp_path):
    """Two runs of one recipe with ``--time-limit``: one straight, one stopped early by ``--max-steps`` after its
    plan was fixed and resumed. Each ends annealed at its planned step; the resumed one keeps the saved plan."""
    cfg = tiny(tmp_path, time_limit="4s", epochs=0, epochs_decay=1, save_epoch_freq=100)
    result = train(cfg, progress=False)
    c = result.counters
    assert result.status == "finished" and c.step == c.planned_steps > MEASURE_STEPS and c.decay_start == MEASURE_STEPS
    assert 2 <= c.seconds <= 6
    with (tmp_path / "run/losses.csv").open() as fh:
        lrs = [float(r["lr"]) for r in csv.DictReader(fh)]
    assert len(lrs) == c.step and lrs[0] == cfg.lr and lrs[-1] < cfg.lr / 20
    assert any(line.startswith("time limit   4s: ") and "steps planned" in line for line in summary_lines(result))
    page = (tmp_path / "run/index.html").read_text()
    assert f"time limit 4s: {c.planned_steps:,} steps planned, the decay from step {MEASURE_STEPS}" in page

    again = tmp_path / "again"
    again.mkdir()
    part = train(replace(cfg, output=str(again / "run"), max_steps=MEASURE_STEPS + 5), progress=False)
    assert part.status == "max_steps" and part.counters.planned_steps > part.counters.step
    planned = part.counters.planned_steps
    said: list[str] = []
    done = train(replace(cfg, output=str(again / "run"), resume=str(again / "run"), time_limit="1h"), progress=False,
                 log=said.append)
    assert any(f"the plan saved with the run holds ({planned:,} steps" in line for line in said)
    assert done.status == "finished" and done.counters.step == done.counters.planned_steps == planned
    with (again / "run/losses.csv").open() as fh:
        lrs = [float(r["lr"]) for r in csv.DictReader(fh)]
    start = MEASURE_STEPS
    expected = [cfg.lr] * start + [cfg.lr * (1 - (k + 1 - start) / (planned - start + 1)) for k in range(start, planned)]
    assert lrs == pytest.approx(expected, rel=1e-5)


def test_the_command_line_takes_a_time_limit_and_refuses_a_bad_one(tmp_path):
    args = build_parser().parse_args(["--domain-a", "a", "--domain-b", "b", "--output", "o", "--time-limit", "1h30m"])
    assert resolve_config(args).time_limit_s == 5400
    with pytest.raises(ConfigError, match="time_limit: 'soon' is not a duration"):
        TrainConfig(domain_a="a", domain_b="b", output="o", time_limit="soon").validate()
    assert TrainConfig().time_limit_s is None


def test_a_recipe_file_takes_a_time_limit_as_a_duration_or_as_seconds(tmp_path):
    """A TOML number is seconds, as ``--time-limit 600`` is; a fraction is refused with the key's name."""
    for value, seconds in (('"40m"', 2400), ("600", 600), ('"600"', 600)):
        recipe = tmp_path / "recipe.toml"
        recipe.write_text(f'domain_a = "a"\ndomain_b = "b"\noutput = "o"\ntime_limit = {value}\n')
        assert resolve_config(build_parser().parse_args(["--config", str(recipe)])).time_limit_s == seconds
    recipe.write_text('domain_a = "a"\ndomain_b = "b"\noutput = "o"\ntime_limit = 1.5\n')
    with pytest.raises(ConfigError, match="time_limit"):
        resolve_config(build_parser().parse_args(["--config", str(recipe)]))
