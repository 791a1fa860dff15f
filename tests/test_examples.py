"""Every lecture experiment in examples/, at its quick size, and the claim it illustrates."""

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import critical

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytest.importorskip("matplotlib", reason="the experiments draw figures with matplotlib")


def load(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture
def run_quick(tmp_path):
    def run(name):
        results = load(name).run(True, tmp_path)
        return results, sorted(p.name for p in tmp_path.glob("*.png"))

    return run


def test_critical_points_saddle_escape_and_min_ratio(run_quick):
    results, figures = run_quick("critical_points")
    lecture = results["lecture_network"]
    assert lecture["kind"] == "saddle" and lecture["eigenvalues"] == pytest.approx([-2.0, 2.0])
    assert abs(lecture["escape"][0]) == pytest.approx(2**-0.5) and lecture["escape"][0] == pytest.approx(
        lecture["escape"][1]
    )
    assert lecture["loss_after_escape"] < lecture["loss_at_saddle"]  # the escape step lowers the loss
    many = results["many_networks"]
    assert max(many["grad_norms"]) < 1e-6  # true critical points, by classify's default test
    ratios = np.array(many["min_ratios"])[np.array(many["kinds"]) == "saddle"]
    assert len(ratios) >= 2 and np.all(ratios < 1)  # saddles: some eigenvalue negative
    taylor = results["taylor"]
    error = np.abs(np.array(taylor["change"]) / np.array(taylor["second_order"]) - 1)
    assert error[0] < 1e-3 and np.all(np.diff(error[:9]) > 0)  # ½λε² explains the change as ε shrinks
    escape = results["escape"]
    steps = escape["steps_to_leave"]
    assert steps["after a step of 0.1 along u"] == 0 < steps["nudged 1e-8 off the saddle"]  # a plateau there
    assert all(final < escape["saddle"] for final in escape["final"].values())
    assert figures == ["critical_escape.png", "critical_min_ratio.png", "critical_saddle.png", "critical_taylor.png"]


def test_newton_on_the_gradient_converges_or_says_its_budget_ran_out():
    critical_points = load("critical_points")
    model, loss = critical_points.sine_problem(0)
    steps = critical_points.newton_on_gradient(critical.Objective(loss, model))  # from the initial weights
    assert steps > 1 and critical.classify(loss, model).grad_norm < 1e-12  # it converged, in more than one step
    model, loss = critical_points.sine_problem(0)
    with pytest.raises(RuntimeError, match="used all 1 steps"):  # a count must never hang on the budget
        critical_points.newton_on_gradient(critical.Objective(loss, model), steps=1)


def test_batch_size_time_and_epochs(run_quick):
    results, figures = run_quick("batch_size")
    sizes, times = results["batch_sizes"], results["times"]
    assert results["every_sample_once"]  # each epoch sees every sample exactly once, reshuffled
    assert [times["updates_per_epoch"][b] for b in sizes] == [-(-1348 // b) for b in sizes]  # ⌈N / B⌉
    assert all(times["per_update"][b] > 0 for b in sizes)  # measured, not asserted: no timing claims here
    assert all(0.0 <= acc <= 1.0 for pair in results["accuracies"].values() for acc in pair)
    assert all(value > 0 for values in results["sharpness"].values() for value in values)
    assert all(len(values) >= 2 for values in results["sharpness"].values())  # several seeds
    tuned = results["tuned"]
    assert sorted(tuned) == sizes[1:] and all(len(t["validation"]) >= 2 for t in tuned.values())
    assert all(t["lr"] in (0.01, 0.1, 1.0) for t in tuned.values())  # each size picks from the quick grid
    assert figures == ["batch_size.png"]


def test_momentum_escapes_the_local_minimum(run_quick):
    results, figures = run_quick("momentum")
    assert results["plain_end"] > 0.5 and results["momentum_end"] < -0.5  # stuck vs. rolled through
    assert results["momentum_loss"] < results["plain_loss"]
    assert results["weighted_sum_gap"] < 1e-12  # m is the weighted sum of past gradients
    assert figures == ["momentum.png"]
    ends = results["starts"]
    assert len(ends) == 3 and all(len(by_start) == 12 for by_start in ends.values())
    momentum = next(v for k, v in ends.items() if k.startswith("momentum"))
    plain = next(v for k, v in ends.items() if k.startswith("GD, η = "))
    assert sum(v == "global" for v in momentum.values()) >= sum(v == "global" for v in plain.values())


def test_adaptive_methods_beat_fixed_learning_rates(run_quick, tmp_path):
    results, figures = run_quick("adaptive_lr")
    fixed = [r for name, r in results.items() if name.startswith("GD")]
    adaptive = [results[name] for name in results if name.split()[0] in ("RMS", "Adagrad", "Adam")]
    assert all(r["steps_to_1e-3"] is None for r in fixed)
    assert all(r["steps_to_1e-3"] is not None for r in adaptive)
    assert max(r["final_distance"] for r in adaptive) < min(r["final_distance"] for r in fixed)
    assert figures == ["adaptive_sigma.png", "adaptive_trajectories.png"]
    assert (tmp_path / "optimizers.html").exists()  # the page with every method, schedule and η


def test_schedules_explosion_decay_and_warmup(run_quick):
    results, figures = run_quick("schedules")
    explosion = results["explosion"]
    assert explosion["burst"] > 1e6 * explosion["min_before_burst"]  # converged, then exploded
    assert explosion["decayed_max_late"] < 1e-6  # decay keeps it converged
    warm = {name: np.mean(arm["first_100_mean_loss"]) for name, arm in results["warmup"].items()}
    assert len(results["warmup"]["no warmup, constant η"]["test_accuracy"]) >= 2  # several seeds
    assert warm["warmup, then constant η"] < warm["no warmup, constant η"]  # warmup alone, without decay
    assert warm["warmup, then cosine decay"] < warm["no warmup, cosine decay"]
    assert warm["RAdam, constant η"] < warm["no warmup, constant η"]
    assert len(results["schedules"]["plotted"]) == 8
    assert figures == ["schedule_explosion.png", "schedule_sigma_bias.png", "schedule_warmup.png", "schedules_all.png"]


def test_summary_table_reads_eta_sigma_m_from_every_optimizer(run_quick):
    results, _ = run_quick("summary")
    assert len(results) == 8
    assert results["SGD"]["sigma"] == [1.0] and results["SGD"]["m"] == [0.5, -0.3]
    assert results["Adam"]["eta"] == pytest.approx(0.1 / (1 - 0.9**3))


def test_autodiff_graphs_show_values_gradients_and_the_recorded_backward(run_quick, tmp_path):
    results, _ = run_quick("autodiff_graphs")
    assert (results["c"], results["dc_da"], results["dc_db"]) == (0.0, 2.0, 8.0)
    assert results["dy"] == pytest.approx(3 * 1.5**2) and results["d2y"] == pytest.approx(6 * 1.5)
    source = (tmp_path / "autodiff_double_backward.dot").read_text()
    assert "**2" in source and "Mul" in source  # the backward of x³ recorded as 3·x²
    collapsed = (tmp_path / "autodiff_mlp_collapsed.dot").read_text()
    assert collapsed.count("box3d") == 3 and "MSELoss" in collapsed
    if shutil.which("dot"):
        assert "b\u0304 += a · " in (tmp_path / results["page"]).read_text()


def test_forward_mode_pays_per_input_and_reverse_mode_per_output(run_quick):
    results, figures = run_quick("forward_reverse")
    assert figures == ["autodiff_forward_reverse.png"]
    for n, r in results["inputs"].items():
        assert (r["forward_sweeps"], r["reverse_sweeps"]) == (n, 8)
    for m, r in results["outputs"].items():
        assert (r["forward_sweeps"], r["reverse_sweeps"]) == (8, m)


def test_a_quick_run_never_overwrites_the_books_figures():
    import subprocess

    result = subprocess.run([sys.executable, str(EXAMPLES / "momentum.py"), "--quick"], capture_output=True, text=True,
                            timeout=120, check=True)  # fmt: skip
    folder = Path(result.stdout.strip().splitlines()[-1].removeprefix("figures in "))
    assert folder.resolve() != (EXAMPLES.parent / "docs" / "figures").resolve()
    assert (folder / "momentum.png").exists()
    shutil.rmtree(folder)  # the run's own temporary folder


def test_the_lectures_details_hold(run_quick):
    results, figures = run_quick("lecture_details")
    (h1, (first1, second1)), (h2, (first2, second2)) = list(results["taylor"]["errors"].items())[:2]
    assert first2 / first1 == pytest.approx((h2 / h1) ** 2, rel=0.2)  # first-order error ∝ h²
    assert second2 / second1 == pytest.approx((h2 / h1) ** 3, rel=0.2)  # with the Hessian term ∝ h³
    saddles = results["saddles"]
    assert saddles[1] > 0.4 and saddles[4] < 0.05 and saddles[16] == 0.0
    assert results["m_and_sigma"]["sigma"] == pytest.approx(1.0) and 0 < results["m_and_sigma"]["m"] < 1
    assert results["rms_decay_adagrad"]["gap"] < 1e-12
    assert results["rmsprop_faster"]["RMSProp α = 0.9"] < 30
    (first, _), (last, last_norm) = results["stall"][1], list(results["stall"].values())[-1]
    assert last < first and last > 200 and last_norm > 900  # the loss settles, the gradient stays large
    raised = results["noisy_updates"]
    assert raised[1] > 0 and raised[32] <= raised[1] and raised[max(raised)] == 0
    assert figures == []
