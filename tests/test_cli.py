"""The command line, run as a user runs it: in a subprocess."""

import contextlib
import copy
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import nn


def cli(*args, cwd=None, timeout=120):
    """Run the command line in a subprocess, by default in a fresh folder (runs/ lands there) removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tinygrad-edu-cli-") as fresh:
        return subprocess.run(
            [sys.executable, "-m", "tinygrad_edu", *args], capture_output=True, text=True,
            cwd=cwd or fresh, timeout=timeout,
        )  # fmt: skip


def assert_clean_error(result, status, message):
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr + result.stdout and "Warning" not in result.stderr
    assert len(result.stderr) < 600, result.stderr  # one line, not a page of usage or of echoed input
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0], result.stderr


def test_demo_trains_checks_renders_and_names_its_folder(tmp_path):
    result = cli("demo", "--quiet", cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / result.stdout.strip().splitlines()[-1]
    assert folder.is_dir() and folder.parent.name == "runs"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.9
    assert metrics["critical_point"]["kind"] in ("not_critical", "saddle", "local_min", "degenerate")
    assert "minimum ratio" in result.stdout and "top Hessian eigenvalue" in result.stdout
    assert (folder / "checkpoint.npz").exists() and (folder / "graph.dot").exists()
    if shutil.which("dot"):
        assert (folder / "graph.svg").exists()
    if importlib.util.find_spec("matplotlib"):
        for plot in ("loss.png", "accuracy.png", "lr.png", "hessian_spectrum.png"):
            assert (folder / plot).exists(), plot


def test_train_resumes_from_a_checkpoint_exactly(tmp_path):
    # A constant schedule: extending a run re-spans a decaying schedule over the new total.
    common = ["--dataset", "moons", "--hidden", "8", "--batch-size", "50", "--quiet", "--schedule", "none"]
    full = cli("train", *common, "--epochs", "4", "--out", str(tmp_path / "full"))
    half = cli("train", *common, "--epochs", "2", "--out", str(tmp_path / "half"))
    assert full.returncode == 0 and half.returncode == 0, full.stderr + half.stderr
    resumed = cli("train", "--resume", str(tmp_path / "half" / "checkpoint.npz"), "--epochs", "4", "--quiet",
                  "--out", str(tmp_path / "resumed"))  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    a = nn.load(tmp_path / "full" / "checkpoint.npz")
    b = nn.load(tmp_path / "resumed" / "checkpoint.npz")
    assert a["epoch"] == b["epoch"] == 4
    for key in a["model"]:
        np.testing.assert_array_equal(a["model"][key], b["model"][key])


def test_train_with_jit_gives_the_eager_run_bit_for_bit_and_resumes(tmp_path):
    common = ["--dataset", "moons", "--hidden", "8", "--batch-size", "50", "--quiet", "--schedule", "none"]
    eager = cli("train", *common, "--epochs", "3", "--out", str(tmp_path / "eager"))
    jitted = cli("train", *common, "--epochs", "2", "--jit", "--out", str(tmp_path / "jit"))
    resumed = cli("train", "--resume", str(tmp_path / "jit" / "checkpoint.npz"), "--epochs", "3", "--jit", "--quiet",
                  "--out", str(tmp_path / "jit"))  # fmt: skip
    for result in (eager, jitted, resumed):
        assert result.returncode == 0, result.stderr
    a, b = nn.load(tmp_path / "eager" / "checkpoint.npz"), nn.load(tmp_path / "jit" / "checkpoint.npz")
    assert a["history"] == b["history"] and len(a["history"]["loss"]) == 30  # 480 samples: 9 batches of 50, 1 of 30
    for key in a["model"]:
        assert a["model"][key].tobytes() == b["model"][key].tobytes()
    for i, state in a["optimizer"]["state"].items():
        for key, value in state.items():
            assert np.asarray(value).tobytes() == np.asarray(b["optimizer"]["state"][i][key]).tobytes()


def test_graph_command_prints_values_and_gradients(tmp_path):
    result = cli("graph", "a*b + b**3", "a=-4", "b=2", "--out", str(tmp_path / "g.svg"))
    assert result.returncode == 0, result.stderr
    assert "= 0" in result.stdout and "∂/∂a = 2" in result.stdout and "∂/∂b = 8" in result.stdout
    assert (tmp_path / "g.dot").exists()
    if shutil.which("dot"):
        assert (tmp_path / "g.svg").read_text().startswith("<?xml")


def test_critical_command_finds_the_lectures_saddle():
    result = cli("critical", "--function", "lecture", "--at", "0,0")
    assert result.returncode == 0, result.stderr
    assert "kind: saddle" in result.stdout and "[-2.  2.]" in result.stdout


def test_critical_command_on_a_saved_model(tmp_path):
    trained = cli("train", "--dataset", "blobs", "--hidden", "4", "--epochs", "1", "--quiet", "--out", str(tmp_path))
    assert trained.returncode == 0, trained.stderr
    result = cli("critical", "--checkpoint", str(tmp_path / "checkpoint.npz"))
    assert result.returncode == 0, result.stderr
    assert "kind:" in result.stdout and "parameters" in result.stdout


@pytest.mark.parametrize("args,status,message", [
    (["graph", "a*c", "a=1"], 2, "unknown name 'c'"),
    (["graph", "a*b", "a=1", "b=abc"], 2, "'abc' is not a number"),
    (["graph", "__import__('os').system('true')", "a=1"], 2, "unsupported expression"),
    (["graph", "a*", "a=1"], 2, "cannot parse"),
    (["critical", "--at", "zero"], 2, "--at takes two"),
    (["train", "--optimizer", "magic"], 2, "invalid choice"),
    (["train", "--lr", "-1", "--epochs", "1"], 2, "argument --lr: must be a finite float above 0, got -1"),
    (["train", "--lr", "nan"], 2, "argument --lr: must be a finite float"),
    (["train", "--epochs", "0"], 2, "argument --epochs: must be a finite int at least 1, got 0"),
    (["train", "--epochs", "-3"], 2, "argument --epochs"),
    (["train", "--batch-size", "0"], 2, "argument --batch-size"),
    (["train", "--hidden", "8", "-4"], 2, "argument --hidden"),
    (["train", "--weight-decay", "nan"], 2, "argument --weight-decay"),
    (["train", "--seed", "-1"], 2, "argument --seed"),
    (["train", "--hidden", "1000000000"], 1, "hidden sizes must be integers from 1 to 100,000"),
    (["graph", "a*9**9**9", "a=1"], 2, "overflows"),
    (["graph", "a + 10**10**8", "a=1"], 2, "overflows"),
    (["graph", "a * 10.0**400", "a=1"], 2, "overflows"),
    (["graph", "a + 1/0", "a=1"], 2, "divides by zero"),
    (["graph", "a @ a", "a=1"], 2, "cannot be computed"),
    (["graph", "a + " + "9" * 1500, "a=1"], 2, "is too large"),
    (["graph", "a" + "+a" * 50_000, "a=1"], 2, "at most 2,000 are drawn"),
    (["graph", "+".join(["a"] * 300), "a=1"], 2, "at most 200 are drawn"),
    (["graph", "log(a)", "a=-1"], 1, "numerical trouble: invalid value encountered in log"),
    (["critical", "--at", "-1,2"], 2, "--at=-1,2"),
    (["critical", "--checkpoint", "x.npz", "--at", "1,2"], 2, "drop --function and --at"),
    (["train", "--lr", "1e300", "--epochs", "1", "--dataset", "blobs"], 1, ""),
    (["critical", "--grad-tol", "nan"], 2, "argument --grad-tol"),
    (["critical", "--grad-tol", "-1"], 2, "argument --grad-tol"),
    (["nonsense"], 2, "invalid choice"),
])  # fmt: skip
def test_bad_input_gives_one_clear_line_and_a_nonzero_status(args, status, message, tmp_path):
    assert_clean_error(cli(*args, cwd=tmp_path), status, message)
    assert not list(tmp_path.glob("runs/*"))  # nothing half-made is left behind


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert_clean_error(cli("demo", "--out", str(blocker / "run")), 1, "cannot write to the output folder")


@pytest.mark.parametrize("command", [["train", "--resume"], ["critical", "--checkpoint"]])
def test_corrupt_checkpoint(tmp_path, command):
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(os.urandom(300))
    assert_clean_error(cli(*command, str(bad)), 1, "not a valid tinygrad_edu checkpoint")


@settings(max_examples=80, deadline=None)
@given(expression=st.text(alphabet="ab0123456789.+-*/()^@ rexplgtn_", max_size=24))
def test_graph_expressions_never_crash_the_command_line(expression, tmp_path_factory):
    """Any text gives a result (0) or one clean error line (1 or 2): never a traceback."""
    from tinygrad_edu.cli import main

    out = tmp_path_factory.mktemp("graph") / "g.svg"
    errors = io.StringIO()
    with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(errors):
        status = main(["graph", expression, "a=0.5", "b=-2", "--out", str(out)])
    assert status in (0, 1, 2)
    if status:
        assert errors.getvalue().strip().splitlines()[-1].startswith("error:")


def test_bad_arguments_are_one_short_line_without_the_usage_text(tmp_path):
    result = cli("train", "--lr", "abc", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "see tinygrad-edu train --help" in result.stderr


def test_version():
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"tinygrad-edu {__import__('tinygrad_edu').__version__}"


SMALL = ["--dataset", "moons", "--hidden", "8", "--batch-size", "50", "--quiet", "--schedule", "none"]


def test_every_epoch_is_checkpointed_and_a_finished_run_says_how_to_go_on(tmp_path):
    out = tmp_path / "run"
    first = cli("train", *SMALL, "--epochs", "2", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "(whole training set" in first.stdout
    again = cli("train", "--resume", str(out / "checkpoint.npz"), "--quiet")
    assert_clean_error(again, 2, "has trained all its 2 epochs; pass --epochs N with N > 2")
    conflicting = cli("train", "--resume", str(out / "checkpoint.npz"), "--optimizer", "sgd", "--lr", "5")
    assert_clean_error(conflicting, 2, "drop --optimizer, --lr")
    onto = cli("train", *SMALL, "--epochs", "1", "--out", str(out))
    assert_clean_error(onto, 2, "holds another run")
    assert cli("train", *SMALL, "--epochs", "1", "--out", str(out), "--force").returncode == 0
    continued = cli("train", "--resume", str(out / "checkpoint.npz"), "--epochs", "3", "--quiet", "--out", str(out))
    assert continued.returncode == 0, continued.stderr  # continuing a run in its own folder needs no --force
    assert nn.load(out / "checkpoint.npz")["epoch"] == 3


def test_a_diverging_run_stops_with_an_error_and_keeps_the_last_good_checkpoint(tmp_path):
    result = cli("train", "--dataset", "moons", "--hidden", "8", "--lr", "1e6", "--optimizer", "sgd", "--quiet",
                 "--schedule", "none", "--epochs", "3", "--out", str(tmp_path / "run"))  # fmt: skip
    assert_clean_error(result, 1, "training diverged in epoch")
    assert "lower the learning rate" in result.stderr
    momentum = cli("train", *SMALL, "--optimizer", "momentum", "--momentum", "5", "--epochs", "3",
                   "--out", str(tmp_path / "momentum"))  # fmt: skip
    assert_clean_error(momentum, 1, "training diverged")
    assert "or the momentum (now 5)" in momentum.stderr


def test_sgd_on_the_command_line_has_no_momentum_unless_asked(tmp_path):
    result = cli("train", *SMALL, "--optimizer", "sgd", "--lr", "0.1", "--epochs", "1", "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    state = nn.load(tmp_path / "r" / "checkpoint.npz")
    assert state["optimizer"]["param_groups"][0]["momentum"] == 0


def test_ctrl_c_during_training_keeps_every_finished_epoch_and_resumes_bit_for_bit(tmp_path):
    import signal
    import time

    common = ["train", "--dataset", "digits", "--hidden", "96", "--batch-size", "4", "--quiet", "--epochs", "8"]
    out = tmp_path / "interrupted"
    process = subprocess.Popen([sys.executable, "-m", "tinygrad_edu", *common, "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr and "--resume" in stderr
    saved = nn.load(out / "checkpoint.npz")
    assert 1 <= saved["epoch"] < 8, saved["epoch"]
    resumed = cli("train", "--resume", str(out / "checkpoint.npz"), "--quiet", "--out", str(tmp_path / "resumed"))
    straight = cli(*common, "--out", str(tmp_path / "straight"))
    assert resumed.returncode == 0 and straight.returncode == 0, resumed.stderr + straight.stderr
    a, b = nn.load(tmp_path / "resumed" / "checkpoint.npz"), nn.load(tmp_path / "straight" / "checkpoint.npz")
    assert a["epoch"] == b["epoch"] == 8
    for name, value in a["model"].items():
        np.testing.assert_array_equal(value, b["model"][name])  # bit for bit
    assert a["history"]["loss"] == b["history"]["loss"]


def test_a_closed_output_pipe_still_saves_the_run(tmp_path):
    out = tmp_path / "piped"
    command = [sys.executable, "-m", "tinygrad_edu", "train", *SMALL[:-3], "--epochs", "2", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    process.stdout.readline()  # like `| head -1`
    process.stdout.close()
    stderr = process.communicate(timeout=120)[1].decode()
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert (out / "checkpoint.npz").exists()
    assert nn.load(out / "checkpoint.npz")["epoch"] >= 1


def test_a_killed_save_leaves_no_temporary_file_behind_for_ever(tmp_path):
    path = tmp_path / "checkpoint.npz"
    stale = tmp_path / ".checkpoint.npz.abc123.tmp"
    stale.write_bytes(b"x" * 1000)  # what kill -9 during a save leaves
    nn.save({"w": np.ones(3)}, path)
    assert not stale.exists() and path.exists()


def test_graph_output_may_be_a_folder_and_its_suffix_picks_the_format(tmp_path):
    into_folder = cli("graph", "a*b", "a=1", "b=2", "--out", ".", cwd=tmp_path)
    assert into_folder.returncode == 0, into_folder.stderr
    assert (tmp_path / "graph.dot").exists()
    pdf = cli("graph", "a*b", "a=1", "b=2", "--out", "g.pdf", cwd=tmp_path)
    assert pdf.returncode == 0, pdf.stderr
    if shutil.which("dot"):
        assert (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF") and not (tmp_path / "g.svg").exists()


def test_a_layout_that_takes_too_long_is_stopped_with_a_clear_message(tmp_path):
    pytest.importorskip("graphviz")
    if not shutil.which("dot"):
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    from tinygrad_edu import Tensor, viz

    a = Tensor(1.0, requires_grad=True)
    total = a
    for _ in range(60):
        total = total + a  # one node with 60 edges: slow for dot's layout
    with pytest.raises(RuntimeError, match="needed more than 0.01 s"):
        viz.render(total, tmp_path / "slow", timeout=0.01)
    assert (tmp_path / "slow.dot").exists()


def test_hostile_checkpoint_files_are_refused_before_anything_is_allocated(tmp_path):
    import zipfile

    random_bytes = tmp_path / "random.npz"
    random_bytes.write_bytes(os.urandom(2000))
    assert_clean_error(cli("train", "--resume", str(random_bytes)), 1, "it is not an .npz (zip) archive at all")
    bomb = tmp_path / "bomb.npz"
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("array_0.npy", "w", force_zip64=True) as member,
    ):
        for _ in range(200):
            member.write(bytes(1_000_000))  # 200 MB of zeros in a file of a few hundred KB
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(ValueError, match="unpacks to 200,000,000 bytes"):
        nn.load(bomb)


def test_a_full_disk_names_the_file_and_keeps_the_previous_checkpoint(tmp_path):
    import resource
    import signal

    out = tmp_path / "run"
    assert cli("train", "--hidden", "32", "--epochs", "1", "--quiet", "--out", str(out)).returncode == 0
    before = (out / "checkpoint.npz").read_bytes()
    assert len(before) > 20_000

    def small_files():  # like a full disk: writing past 20 KB fails
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    result = subprocess.run([sys.executable, "-m", "tinygrad_edu", "train", "--resume", str(out / "checkpoint.npz"),
                             "--epochs", "2", "--quiet", "--out", str(out)], capture_output=True, text=True,
                            preexec_fn=small_files, cwd=tmp_path, timeout=120)  # fmt: skip
    assert_clean_error(result, 1, f"cannot write {out / 'checkpoint.npz'}: File too large")
    assert (out / "checkpoint.npz").read_bytes() == before
    assert not list(out.glob(".checkpoint.npz.*.tmp"))


def test_ctrl_c_during_the_hessian_check_keeps_the_finished_training(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    command = [sys.executable, "-m", "tinygrad_edu", "train", "--dataset", "digits", "--hidden", "30", "--epochs", "1",
               "--quiet", "--out", str(out)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # the report's dense Hessian of 2,260 parameters takes seconds
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 1 and "Traceback" not in stderr
    assert "after training; epoch 1 is saved" in stderr and "--resume" in stderr
    assert nn.load(out / "checkpoint.npz")["epoch"] == 1


def test_a_tampered_checkpoint_is_refused_with_a_reason(tmp_path):
    out = tmp_path / "run"
    assert cli("train", *SMALL, "--epochs", "2", "--out", str(out)).returncode == 0
    state = nn.load(out / "checkpoint.npz")
    for change, message in [(("epoch", -5), "epoch count -5 is not between 0 and its 2 epochs"),
                            (("history", {"loss": []}), "is not a training checkpoint"),
                            (("optimizer", "step", "x"), "a damaged one (state 'step' of parameter 0 is 'x'"),
                            (("scheduler", "base_lrs", "?"), "(base_lrs '?' are not 1 finite")]:  # fmt: skip
        bad = copy.deepcopy(state)
        if change[0] == "optimizer":  # a step count that is not a number: it crashed the resumed training
            bad["optimizer"]["state"][0][change[1]] = change[2]
        elif change[0] == "scheduler":
            bad["scheduler"][change[1]] = change[2]
        else:
            bad[change[0]] = change[1]
        nn.save(bad, tmp_path / "bad.npz")
        assert_clean_error(cli("train", "--resume", str(tmp_path / "bad.npz"), "--epochs", "4"), 1, message)


def test_progress_off_a_terminal_is_one_plain_line_per_epoch(tmp_path):
    result = cli("train", *SMALL[:-3], "--epochs", "2", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    printed = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in printed] == ["epoch 1/2", "epoch 2/2"]
    assert "\r" not in result.stdout + result.stderr
    losses = nn.load(tmp_path / "run" / "checkpoint.npz")["history"]["loss"]  # 10 batches an epoch
    for line, epoch in zip(printed, (losses[:10], losses[10:])):  # the epoch's mean, not its last batch's
        assert f"mean batch loss {np.mean(epoch):.4f}," in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file, so a chmod 000 file cannot be tested")
def test_an_unreadable_checkpoint_says_so(tmp_path):
    path = tmp_path / "checkpoint.npz"
    nn.save({"w": np.ones(2)}, path)
    path.chmod(0)
    assert_clean_error(cli("train", "--resume", str(path)), 1, "cannot read")


def test_kill_9_during_a_save_leaves_the_previous_checkpoint_whole(tmp_path):
    import signal
    import time

    path = tmp_path / "checkpoint.npz"
    nn.save({"w": np.zeros(10)}, path)
    writer = subprocess.Popen([sys.executable, "-c", (
        "import numpy as np, sys\nfrom tinygrad_edu import nn\n"
        "big = np.ones(20_000_000)\nwhile True:\n    nn.save({'w': big}, sys.argv[1])\n"
    ), str(path)])  # fmt: skip
    time.sleep(1.5)  # mid-way through writing 160 MB, most likely
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert nn.load(path)["w"].shape in ((10,), (20_000_000,))  # the old file or a whole new one, never a torn one
    nn.save({"w": np.ones(3)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]  # the killed save's temporary is gone
