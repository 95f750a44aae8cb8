"""benchmarks/judge.py: blind pairs in a real browser, votes downloaded, tallied against the key."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference.pixelator import Pixelator

sys.path.append(str(Path(__file__).parents[1] / "benchmarks"))  # after the packages: benchmarks/data_cards.py must not shadow data_cards
import judge  # noqa: E402 - benchmarks/ is a folder of scripts, not a package
from judge_shots import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402 - the browser the shots take, and how it is started
from quality_cases import Case  # noqa: E402

A, B = "classical, 4 colours", "classical, 16 colours"
#: The published page's key (docs/quality.md): a new page, a new key, named here once.
PUBLISHED_KEY = "benchmarks/judge_keys/v80-published-seed2040.json"
#: the first panel's page (v74, the shipped model then): its ballots and a redraw with the kept v74 weights
PANEL1_KEY = "benchmarks/judge_keys/v74-margin8-seed2032.json"


def cases(n: int) -> list[Case]:
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        arr = np.full((40, 48, 3), 255, np.uint8)
        arr[8:32, 10:38] = rng.integers(0, 256, 3)
        arr[14:18, 16:20] = 20  # an eye
        out.append(Case(f"case {i}", "cartoon" if i % 2 else "photo", Image.fromarray(arr)))
    return out


def test_pairs_put_each_method_left_half_the_time_and_repeat_with_the_seed():
    pairs = judge.make_pairs(cases(9), A, B, seed=3)
    assert sorted(p.case for p in pairs) == sorted(c.name for c in cases(9))
    assert sum(p.left == A for p in pairs) == 4 and all({p.left, p.right} == {A, B} for p in pairs)
    assert pairs == judge.make_pairs(cases(9), A, B, seed=3)
    assert [p.case for p in pairs] != [p.case for p in judge.make_pairs(cases(9), A, B, seed=4)]


def test_sign_test_is_the_exact_binomial():
    assert judge.sign_test(0, 0) == 1.0 and judge.sign_test(5, 5) == 1.0
    assert judge.sign_test(10, 0) == pytest.approx(2 / 1024)
    assert judge.sign_test(2, 8) == pytest.approx(2 * (1 + 10 + 45) / 1024)


def test_a_wrong_ballot_is_refused_not_counted():
    pairs = judge.make_pairs(cases(2), A, B)
    key = {"key_id": "k", "a": A, "b": B, "pairs": [p.__dict__ for p in pairs]}
    with pytest.raises(ValueError, match="another page"):
        judge.tally(key, [{"key_id": "other", "votes": {}}])
    with pytest.raises(ValueError, match="no pair '009'"):
        judge.tally(key, [{"key_id": "k", "votes": {"009": "left"}}])
    with pytest.raises(ValueError, match="not one of"):
        judge.tally(key, [{"key_id": "k", "votes": {"001": "better"}}])


def test_page_in_headless_chromium_votes_blind_and_tallies(tmp_path, capsys):
    assert CHROMIUM.exists(), "needs Debian's chromium: apt-get install -y chromium (make test installs it)"
    from playwright.sync_api import sync_playwright

    found = cases(4)
    methods = {A: Pixelator.classic(palette="4"), B: Pixelator.classic(palette="16")}
    outputs = {c.name: {m: px.pixelate(c.image) for m, px in methods.items()} for c in found}
    pairs = judge.make_pairs(found, A, B, seed=1)
    kid = judge.write_page(tmp_path, pairs, {c.name: c.image for c in found}, outputs, A, B)
    page_html = (tmp_path / "index.html").read_text()
    assert A not in page_html and B not in page_html and "4 colours" not in page_html  # blind
    for p in pairs:  # every output saved losslessly as it came out of pixelate
        assert np.array_equal(np.asarray(Image.open(tmp_path / "pairs" / f"{p.id}-left.png").convert("RGB")),
                              np.asarray(outputs[p.case][p.left].convert("RGB")))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            context = browser.new_context(accept_downloads=True)
            page = context.new_page()
            page.goto((tmp_path / "index.html").as_uri(), wait_until="load")
            page.get_by_text("0 / 4 judged").wait_for(timeout=10_000)
            rendering = page.locator("#p001 .left img").evaluate("img => [img.naturalWidth, getComputedStyle(img).imageRendering]")
            assert rendering == [48, "pixelated"]
            page.keyboard.press("1")  # pair 001: left
            page.keyboard.press("3")  # the next pair, 002: right
            page.locator("#p004 button[data-choice=even]").click()
            page.reload(wait_until="load")  # the votes survive a reload
            page.get_by_text("3 / 4 judged").wait_for(timeout=10_000)
            with page.expect_download() as done:
                page.locator("#download").click()
            ballot = tmp_path / "votes.json"
            done.value.save_as(ballot)
        finally:
            browser.close()
    votes = json.loads(ballot.read_text())
    assert votes == {"key_id": kid, "votes": {"001": "left", "002": "right", "004": "even"}}
    want = {A: 0, B: 0, "even": 1}
    want[pairs[0].left] += 1
    want[pairs[1].right] += 1
    assert judge.main(["tally", str(tmp_path / "key.json"), str(ballot)]) == 0
    out = capsys.readouterr().out
    assert f"| total | {want[A]} | {want[B]} | 1 |" in out and "no clear preference" in out
    assert judge.tally(json.loads((tmp_path / "key.json").read_text()), [votes])["total"] == want


def test_by_pair_counts_each_pictures_wins_over_the_ballots(capsys, tmp_path):
    pairs = judge.make_pairs(cases(3), A, B, seed=2)
    key = {"key_id": "k", "a": A, "b": B, "question": "?", "pairs": [p.__dict__ for p in pairs]}
    ballots = [{"key_id": "k", "votes": {"001": "left", "002": "even", "003": "right"}},
               {"key_id": "k", "votes": {"001": "left", "002": "right"}}]  # a judge may skip a pair
    rows = judge.by_pair(key, ballots)
    assert [r[0]["id"] for r in rows] == ["001", "002", "003"]
    first = {A: 0, B: 0}
    first[pairs[0].left] = 2
    assert rows[0][1:] == (first[A], first[B], 0)
    assert sum(r[1] + r[2] + r[3] for r in rows) == 5 and rows[1][3] == 1
    with pytest.raises(ValueError, match="another page"):
        judge.by_pair(key, [{"key_id": "x", "votes": {}}])
    (tmp_path / "key.json").write_text(json.dumps(key))
    for n, b in enumerate(ballots):
        (tmp_path / f"v{n}.json").write_text(json.dumps(b))
    assert judge.main(["tally", str(tmp_path / "key.json"), str(tmp_path / "v0.json"), str(tmp_path / "v1.json"), "--by-pair"]) == 0
    assert f"| 001 | {pairs[0].case} | {first[A]} | {first[B]} | 0 |" in capsys.readouterr().out


def test_shots_show_each_pair_as_the_page_does_without_the_key(tmp_path):
    """``judge.py shots``: one PNG per pair with the picture and both outputs scaled by whole multiples (nearest
    neighbour, as the page shows them), no buttons, and a brief carrying the page's key id; it works with the key gone."""
    assert CHROMIUM.exists(), "needs Debian's chromium: apt-get install -y chromium (make test installs it)"
    import judge_shots

    found = cases(2)
    methods = {A: Pixelator.classic(palette="4"), B: Pixelator.classic(palette="16")}
    outputs = {c.name: {m: px.pixelate(c.image) for m, px in methods.items()} for c in found}
    pairs = judge.make_pairs(found, A, B, seed=5)
    kid = judge.write_page(tmp_path / "page", pairs, {c.name: c.image for c in found}, outputs, A, B)
    (tmp_path / "page" / "key.json").unlink()  # a judge's folder is made from the page alone
    assert judge.main(["shots", str(tmp_path / "page"), "--out", str(tmp_path / "shots")]) == 0
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == ["001.png", "002.png", "BRIEF.md"]
    brief = (tmp_path / "shots" / "BRIEF.md").read_text()
    assert f'"key_id": "{kid}"' in brief and judge.QUESTION in brief and A not in brief and B not in brief
    for p in pairs:
        shot = np.asarray(Image.open(tmp_path / "shots" / f"{p.id}.png").convert("RGB")).reshape(-1, 3)
        for side in (p.left, p.right):  # every colour of both outputs is on the shot, drawn in whole cells
            out = np.asarray(outputs[p.case][side].convert("RGB")).reshape(-1, 3)
            assert set(map(tuple, out)) <= set(map(tuple, shot))
        assert shot.shape[0] > 3 * 48 * 40  # the three pictures at their shown size, not thumbnails
    with pytest.raises(ValueError, match="not a judging page"):
        judge_shots.page_facts("<html></html>")


def test_stage_strip_takes_options_per_column(tmp_path, monkeypatch):
    """``--run LABEL=RUN@OPTION=VALUE,...``: each column its own pixelate options, values read as numbers where they are."""
    import stage_strip

    seen = []

    def fake(run, **options):
        seen.append((run, options))
        return Pixelator.classic()

    monkeypatch.setattr(stage_strip.Pixelator, "from_checkpoint", staticmethod(fake))
    out = tmp_path / "strip.png"
    assert stage_strip.main(["--run", "a=runs/x@palette_from=picture,settle_flats=0", "--run", "b=runs/y",
                             "--cases", "cartoon head", "--out", str(out)]) == 0
    assert seen == [("runs/x", {"pixels_per_cell": 2, "palette_from": "picture", "settle_flats": 0}),
                    ("runs/y", {"pixels_per_cell": 2})]
    assert Image.open(out).width > 0


def test_the_published_page_is_whole_and_matches_its_committed_key():
    """docs/judge/ is the page anyone can vote on (the shipped model as pixelate runs it against the classical method); its key
    stays in the repo, and names the pictures shown, so a page redrawn by another model has another key."""
    root = Path(__file__).parents[1]
    page = (root / "docs/judge/index.html").read_text()
    key = json.loads((root / PUBLISHED_KEY).read_text())
    pairs = [judge.Pair(**p) for p in key["pairs"]]
    shown = judge.shown_digest(root / "docs/judge/pairs", pairs)
    assert judge.key_id(pairs, key["a"], key["b"], shown) == key["key_id"]  # neither key nor pictures changed since
    assert judge.key_id(pairs, key["a"], key["b"], "other pictures") != key["key_id"]
    assert key["made_with"]["model_views"] == "shipped model: auto"  # what pixelate --shipped draws by default
    assert key["made_with"]["model_weights_sha256"] == judge.weights_sha256(None), (
        "the shipped model changed since the page was made: make a new page and key (docs/quality.md)")
    assert not (root / "docs/judge/key.json").exists()  # the key never goes on the site
    assert f'key_id: "{key["key_id"]}"' in page and "shipped model" not in page and "classical" not in page
    assert len(pairs) == 23 and {p.group for p in pairs} == {"cartoon"}
    assert sum(p.left == "shipped model" for p in pairs) in (11, 12)
    for p in pairs:
        for side in ("input", "left", "right"):
            assert f'src="pairs/{p.id}-{side}.png"' in page
            assert Image.open(root / f"docs/judge/pairs/{p.id}-{side}.png").mode in ("RGB", "RGBA", "P")
    votes = {"key_id": key["key_id"], "votes": {p.id: "left" if p.left == "shipped model" else "right" for p in pairs}}
    counts = judge.tally(key, [votes])
    assert counts["total"] == {"shipped model": 23, "classical (new)": 0, "even": 0}


def test_the_published_page_shows_what_pixelate_draws_today():
    """Votes judge the pictures on the page, so a change anywhere in the pipeline (not only new weights) must redraw
    it. Each pair's two outputs are redrawn from the page's own input picture and must be identical, pixel for pixel."""
    root = Path(__file__).parents[1]
    key = json.loads((root / PUBLISHED_KEY).read_text())
    draw = {"shipped model": Pixelator.shipped().pixelate, "classical (new)": Pixelator.classic().pixelate}
    for p in (judge.Pair(**p) for p in key["pairs"]):
        picture = Image.open(root / f"docs/judge/pairs/{p.id}-input.png")
        picture.load()
        for side, method in (("left", p.left), ("right", p.right)):
            shown = np.asarray(Image.open(root / f"docs/judge/pairs/{p.id}-{side}.png"))
            assert np.array_equal(np.asarray(draw[method](picture)), shown), (p.id, p.case, method)


def test_every_kept_ballot_belongs_to_a_kept_key_and_the_panels_readme_states_its_tally():
    """Ballots are kept beside their keys (people's in ``votes/``, the AI panel's in ``agent-votes/``): each must
    tally against its key, and the panel's README must say what the tally says."""
    root = Path("benchmarks/judge_keys")
    keys = {k["key_id"]: k for k in (json.loads(p.read_text()) for p in root.glob("*.json"))}
    panel = sorted((root / "agent-votes").glob("*.json"))
    for ballot_path in sorted((root / "votes").glob("*.json")) + panel:
        ballot = json.loads(ballot_path.read_text())
        assert ballot["key_id"] in keys, f"{ballot_path} was cast on a page whose key is not kept"
        judge.tally(keys[ballot["key_id"]], [ballot])
    assert panel
    readme = (root / "agent-votes" / "README.md").read_text()
    by_page: dict[str, list[dict]] = {}
    for path in panel:
        ballot = json.loads(path.read_text())
        by_page.setdefault(ballot["key_id"], []).append(ballot)
    for kid, ballots in by_page.items():  # one panel per page
        key = keys[kid]
        total = judge.tally(key, ballots)["total"]
        row = f"| {len(ballots)} judges, {len(ballots) * len(key['pairs'])} ballots | {total[key['a']]} | {total[key['b']]} | {total['even']} |"
        assert row in readme, f"the panel on {kid} tallies {row}"


def test_cartoon_cases_skip_reaches_held_out_pictures_no_option_was_chosen_on(tmp_path, monkeypatch):
    """``judge.py make --skip 12``: the next held-out pictures of each source in sha256 order, never a training one
    and never one of the first ``skip``; a source with fewer held out gives what it has."""
    import quality_cases

    rows = []
    for i, (source, digest) in enumerate([("twemoji", f"0{i:02x}" + "a" * 61) for i in range(6)]
                                         + [("twemoji", "1" + "b" * 63), ("kenney", "0" + "c" * 63)]):
        path = f"files/{digest[:2]}/{digest}.png"
        (tmp_path / "cartoons" / path).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGBA", (9, 9), (i * 30, 0, 0, 255)).save(tmp_path / "cartoons" / path)
        rows.append({"sha256": digest, "path": path, "source": source, "title": f"pic {source}-{i}"})
    (tmp_path / "cartoons" / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in reversed(rows)))
    monkeypatch.setattr(quality_cases, "CORPUS", tmp_path)
    first = [c.name for c in quality_cases.cartoon_cases(2)]
    assert first == ["kenney:kenney-7", "twemoji:twemoji-0", "twemoji:twemoji-1"]
    fresh = quality_cases.cartoon_cases(3, skip=2)
    assert [c.name for c in fresh] == ["twemoji:twemoji-2", "twemoji:twemoji-3", "twemoji:twemoji-4"]
    assert fresh[0].image.size == (8, 8)  # cropped to the cell grid, as every case
    assert [c.name for c in quality_cases.cartoon_cases(9, skip=5)] == ["twemoji:twemoji-5"]  # never the training "1..."


def test_judge_metrics_agreement_counts_what_the_judges_decided():
    """``judge_metrics.agreement``: a number that ranks pairs as the judges do correlates +1 and calls every decided
    pair their way; reversed, -1 and none; undecided pairs (|net| < 2) and a number that sees no difference are not
    counted as calls, and a missing number (NaN) is left out."""
    import judge_metrics as jm

    nets = [3, 2, 1, 0, -2, -4]
    rows = [jm.Judged(f"c{i}", n, {"ssim": float(n), "lone": -float(n), "features": float("nan") if i == 0 else 0.0})
            for i, n in enumerate(nets)]
    rho, _, same, called = jm.agreement(rows, "ssim")
    assert rho == pytest.approx(1.0) and (same, called) == (4, 4)
    rho, _, same, called = jm.agreement(rows, "lone")
    assert rho == pytest.approx(-1.0) and (same, called) == (0, 4)
    assert jm.agreement(rows, "features")[2:] == (0, 0)  # no difference calls nothing
    row = {"lines_visible": 3, "lines_total": 4, "keys": [("eye", 2.0), ("mouth", 7.5)]}
    assert jm.numbers(row)["lines"] == 0.75 and jm.numbers(row)["keys"] == 7.5
    assert np.isnan(jm.numbers({"lines_visible": 0, "lines_total": 0, "keys": []})["keys"])


def test_judge_metrics_redraws_a_kept_page_from_its_keys_command_and_refuses_a_changed_model(tmp_path):
    """A panel's pairs are redrawn from the ``make`` line its key records (the published page: 23 pairs whose nets sum
    to the panel's model wins minus classical wins); a key whose model weights are not the ones on disk is refused,
    as is a key with no ballots beside it."""
    import judge_metrics as jm

    root = Path(__file__).parents[1] / "benchmarks/judge_keys"
    key = json.loads((root / Path(PANEL1_KEY).name).read_text())
    ballots = [json.loads(p.read_text()) for p in sorted((root / "agent-votes").glob(f"{Path(PANEL1_KEY).stem}-agent*.json"))]
    total = judge.tally(key, ballots)["total"]
    rows = jm.judged_pairs(root / Path(PANEL1_KEY).name)
    assert [r.case for r in rows] == [p["case"] for p in key["pairs"]]
    assert sum(r.net for r in rows) == total[key["a"]] - total[key["b"]]
    assert all(set(r.better) == set(jm.METRICS) for r in rows)
    (tmp_path / "agent-votes").mkdir()
    stale = {**key, "made_with": {**key["made_with"], "model_weights_sha256": "0" * 64}}
    (tmp_path / "stale.json").write_text(json.dumps(stale))
    with pytest.raises(ValueError, match="no ballots"):
        jm.judged_pairs(tmp_path / "stale.json")
    (tmp_path / "agent-votes" / "stale-agent1.json").write_text(json.dumps(ballots[0]))
    with pytest.raises(ValueError, match="weights changed"):
        jm.judged_pairs(tmp_path / "stale.json")
