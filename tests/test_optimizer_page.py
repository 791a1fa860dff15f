"""The optimizers page: its paths are the library's optimizers', and the page
shows them (in headless Chromium when it is installed)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from browser import dump_dom, needs_chromium, page_errors

from tinygrad_edu import Tensor, cli, optim
from tinygrad_edu import optimizer_page as page
from tinygrad_edu.optim.lr_scheduler import CosineAnnealingLR, WarmupLR


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    runs = page.every_run()
    return runs, page.write(tmp_path_factory.mktemp("page") / "optimizers.html", runs)


@pytest.mark.parametrize("surface", list(page.SURFACES))
@pytest.mark.parametrize("optimizer", list(page.OPTIMIZERS))
def test_every_step_is_the_summary_update_with_the_recorded_parts(surface, optimizer):
    run = page.descend(surface, optimizer, "warmup + decay", 0.01)
    sigma = np.where(np.isnan(run.sigma), 1.0, run.sigma)
    expected = run.theta[:-1] - run.eta[:, None] * run.m / sigma  # θᵗ⁺¹ = θᵗ − (ηᵗ/σᵗ)·mᵗ
    kept = ~np.isnan(run.theta[1:, 0])  # GD and momentum run away on the bowl at this η
    assert kept.sum() >= 5
    np.testing.assert_allclose(run.theta[1:][kept], expected[kept], rtol=1e-12, atol=1e-15)


def test_recording_changes_nothing_the_optimizer_does():
    """The same run without the recorder: Adam with warmup then cosine decay, step by step."""
    f = page.SURFACES["saddle"]
    p = Tensor(np.array(f.start), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    scheduler = WarmupLR(opt, page.WARMUP, after=CosineAnnealingLR(opt, T_max=page.STEPS - page.WARMUP))
    path = [p.data.copy()]
    for _ in range(page.STEPS):
        opt.zero_grad()
        f.loss(p[0], p[1]).backward()
        opt.step()
        scheduler.step()
        path.append(p.data.copy())
    np.testing.assert_array_equal(page.descend("saddle", "Adam", "warmup + decay", 0.1).theta, np.array(path))


def test_lecture_rmsprop_starts_from_the_first_gradient_and_gd_has_no_sigma():
    run = page.descend("bowl", "RMSProp", "constant", 0.01)
    g0 = np.array([2 * -4.0, 2000 * 0.5])  # ∇(x² + 1000y²) at the start
    np.testing.assert_allclose(run.sigma[0], np.abs(g0), rtol=1e-6)  # σ⁰ = |g⁰| (+ ε)
    assert np.isnan(page.descend("bowl", "GD", "constant", 0.01).sigma).all()


def test_a_path_that_runs_away_stops_and_its_loss_is_infinite():
    run = page.descend("bowl", "GD", "constant", 0.01)  # η above 2/2000: y oscillates and grows
    ran = np.nonzero(np.isnan(run.theta[:, 0]))[0]
    assert len(ran) and np.isnan(run.theta[ran[0] :]).all() and np.all(np.abs(run.theta[: ran[0]]) < page.RUNAWAY)
    assert page.final_loss(("bowl", "GD", "constant", 0.01), run) == np.inf


def test_the_page_embeds_every_run_is_self_contained_and_small(written):
    runs, path = written
    text = path.read_text()
    assert len(text.encode()) <= 2_000_000
    assert not re.search(r"(https?:)?//[\w.-]+\.\w+/", text) and "<script src" not in text
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S).group(1))
    embedded = np.frombuffer(base64.b64decode(data["paths"]), dtype="<f4").reshape(len(runs), -1)
    np.testing.assert_array_equal(embedded, page.pack(runs))
    assert data["learningRates"] == page.LEARNING_RATES and data["schedules"] == list(page.SCHEDULES)


def readout(dom: str) -> dict[str, str]:
    tag = re.search(r'<p id="readout"([^>]*)>', dom).group(1)
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', tag))


@needs_chromium
@pytest.mark.parametrize(
    "surface,optimizer,schedule,lr,step",
    [("bowl", "RMSProp", "warmup", 0.0316, 60), ("saddle", "momentum", "constant", 0.1, 0),
     ("bowl", "Adam", "warmup + decay", 1.0, 100), ("saddle", "GD", "decay", 0.001, 37)],
)  # fmt: skip
def test_the_page_shows_the_optimizers_numbers(written, surface, optimizer, schedule, lr, step):
    runs, path = written
    address = f"surface={surface}&optimizer={optimizer}&schedule={schedule.replace(' ', '%20')}&lr={lr}&step={step}"
    dom = dump_dom(path, address.replace("+", "%2B"))
    assert page_errors(dom) == ""
    run = runs[surface, optimizer, schedule, lr]
    shown = readout(dom)
    assert int(shown["theta-step"]) == step
    np.testing.assert_allclose([float(v) for v in shown["theta"].split(",")], run.theta[step], rtol=1e-6, atol=1e-30)
    u = min(step, page.STEPS - 1)
    np.testing.assert_allclose([float(v) for v in shown["m"].split(",")], run.m[u], rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(float(shown["eta"]), run.eta[u], rtol=1e-6)
    np.testing.assert_allclose([float(v) for v in shown["sigma"].split(",")], run.sigma[u], rtol=1e-6, atol=1e-30)


@needs_chromium
def test_the_page_opens_without_an_address_and_ignores_unknown_values(written):
    _, path = written
    dom = dump_dom(path, "surface=moon&lr=7&step=-3")
    assert page_errors(dom) == ""
    assert 'data-shown="bowl|Adam|constant|6|100"' in dom  # the defaults: Adam at η = 0.1, the whole path
    moved = dump_dom(path, then="const s = document.getElementById('step'); s.value = '5'; s.oninput();")
    assert 'data-shown="bowl|Adam|constant|6|5"' in moved and page_errors(moved) == ""


def test_the_command_prints_each_optimizers_best_and_writes_the_page(tmp_path, capsys):
    assert cli.main(["optimizers"]) == 0
    out = capsys.readouterr().out
    assert "constant" in out and "warmup + decay" in out and "RMSProp" in out and "--html" in out
    assert cli.main(["optimizers", "--html", "--out", str(tmp_path / "o.html")]) == 0
    assert (tmp_path / "o.html").read_text().startswith("<!DOCTYPE html>")
