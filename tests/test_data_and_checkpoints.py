"""DataLoader, datasets, and the safe checkpoint format."""

import io
import os
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor, nn
from tinygrad_edu.data import DataLoader, datasets


# ------------------------------------------------------------------ DataLoader
def epoch_rows(loader):
    return np.concatenate([xb.data[:, 0] for xb, _ in loader])


def test_every_sample_exactly_once_per_epoch_in_a_new_order_each_epoch():
    X = np.arange(50, dtype=float).reshape(50, 1)
    loader = DataLoader(X, np.arange(50), batch_size=8, seed=0)
    first, second = epoch_rows(loader), epoch_rows(loader)
    assert sorted(first) == sorted(second) == list(range(50))
    assert not np.array_equal(first, second)


def test_labels_stay_with_their_samples():
    X = np.arange(20, dtype=float).reshape(20, 1)
    for xb, yb in DataLoader(X, np.arange(20) * 10, batch_size=6, seed=1):
        np.testing.assert_array_equal(xb.data[:, 0] * 10, yb.data)


def test_seed_makes_the_order_reproducible():
    X = np.arange(30, dtype=float).reshape(30, 1)
    a, b = DataLoader(X, batch_size=4, seed=5), DataLoader(X, batch_size=4, seed=5)
    for _ in range(3):
        np.testing.assert_array_equal(np.concatenate([t.data for t in a]), np.concatenate([t.data for t in b]))


@pytest.mark.parametrize("drop_last,expected_sizes", [(False, [4, 4, 2]), (True, [4, 4])])
def test_last_batch_follows_drop_last(drop_last, expected_sizes):
    loader = DataLoader(np.zeros((10, 2)), np.zeros(10), batch_size=4, shuffle=False, drop_last=drop_last)
    assert [len(xb) for xb, _ in loader] == expected_sizes and len(loader) == len(expected_sizes)


def test_without_shuffle_order_is_the_original():
    X = np.arange(7, dtype=float).reshape(7, 1)
    np.testing.assert_array_equal(epoch_rows(DataLoader(X, np.zeros(7), 3, shuffle=False)), np.arange(7))


def test_bad_loader_arguments_are_refused():
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(np.zeros((4, 1)), batch_size=0)
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        DataLoader(np.zeros((4, 1)), np.zeros(3))
    X = np.zeros((4, 2))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="X holds NaN or infinity \\(first in sample 2\\)"):
        DataLoader(X, np.zeros(4))


# ------------------------------------------------------------------ datasets
@pytest.mark.parametrize("name", sorted(datasets.GENERATORS))
def test_generators_are_seeded_and_labelled(name):
    make = datasets.GENERATORS[name]
    X1, y1 = make(seed=3)
    X2, y2 = make(seed=3)
    np.testing.assert_array_equal(X1, X2)
    assert X1.shape[1] == 2 and len(X1) == len(y1) and y1.dtype.kind == "i" and len(np.unique(y1)) >= 2
    assert not np.array_equal(X1, make(seed=4)[0])


def test_digits_ship_with_the_package():
    X, y = datasets.digits()
    assert X.shape == (1797, 64) and X.min() >= 0.0 and X.max() == 1.0
    assert sorted(np.unique(y)) == list(range(10))


def test_train_test_split_partitions_the_data():
    X, y = np.arange(100).reshape(50, 2), np.arange(50)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_fraction=0.2, seed=0)
    assert len(X_test) == 10 and len(X_train) == 40
    assert sorted(np.concatenate([y_train, y_test])) == list(range(50))
    np.testing.assert_array_equal(X_test[:, 0] // 2, y_test)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        datasets.train_test_split(X, y, test_fraction=1.0)


# ------------------------------------------------------------------ checkpoints
def test_nested_structures_round_trip(tmp_path):
    obj = {
        "weights": np.arange(6.0).reshape(2, 3),
        "tensor": Tensor([1.0, 2.0]),
        "state": {0: {"step": 3, "m": np.ones(2, np.float32)}},
        "list": [1, 2.5, "text", None, True],
        "tuple": (0.9, 0.999),
        "odd floats": [float("inf"), float("-inf")],
    }
    path = tmp_path / "c.ckpt"
    nn.save(obj, path)
    assert os.listdir(tmp_path) == ["c.ckpt"]  # exactly `path`, no temporary left over
    back = nn.load(path)
    np.testing.assert_array_equal(back["weights"], obj["weights"])
    np.testing.assert_array_equal(back["tensor"], [1.0, 2.0])
    assert back["state"][0]["step"] == 3 and back["state"][0]["m"].dtype == np.float32
    assert back["list"] == obj["list"] and back["tuple"] == (0.9, 0.999)
    assert back["odd floats"] == [float("inf"), float("-inf")]


def test_unsupported_objects_are_refused_with_their_place(tmp_path):
    with pytest.raises(TypeError, match=r"object\['model'\].*Linear.*state_dict"):
        nn.save({"model": nn.Linear(2, 2)}, tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nn.save({}, tmp_path / "missing" / "x.npz")


def test_truncated_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "c.npz"
    nn.save(nn.MLP([2, 3, 1]).state_dict(), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a valid tinygrad_edu checkpoint"):
        nn.load(path)


def test_file_that_is_not_an_npz_gives_a_clear_error(tmp_path):
    path = tmp_path / "c.npz"
    path.write_text("hello, I am text")
    with pytest.raises(ValueError, match="not a valid tinygrad_edu checkpoint"):
        nn.load(path)
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match="single .npy array"):
        nn.load(tmp_path / "single.npy")
    np.savez(tmp_path / "foreign.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="no __meta__ entry"):
        nn.load(tmp_path / "foreign.npz")


class Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickled_objects_are_never_loaded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = Boom()
    buffer = io.BytesIO()
    np.save(buffer, evil, allow_pickle=True)
    with zipfile.ZipFile(path, "w") as archive:
        meta = b'{"format": "tinygrad_edu-checkpoint", "version": 1, "content": {"__array__": "array_0"}}'
        archive.writestr("__meta__.npy", _npy_bytes(np.frombuffer(meta, np.uint8)))
        archive.writestr("array_0.npy", buffer.getvalue())
    with pytest.raises(ValueError, match="pickled"):
        nn.load(path)
    assert not (tmp_path / "pwned").exists()


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_interrupted_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.save({"w": np.ones(3)}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut mid-write")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        nn.save({"w": np.zeros(3)}, path)
    np.testing.assert_array_equal(nn.load(path)["w"], np.ones(3))
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_header_claiming_more_data_than_the_file_holds_is_refused_before_allocating(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)})
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__meta__.npy", header.getvalue())
    with pytest.raises(ValueError, match="claims 800,000,000,000 bytes"):
        nn.load(path)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_corrupted_checkpoints_only_ever_raise_a_clear_value_error(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "c.npz"
    nn.save({"w": np.arange(6.0).reshape(2, 3), "step": 3, "nested": {"t": (1, 2.5)}}, path)
    raw = bytearray(path.read_bytes())
    mutation = data.draw(st.sampled_from(["flip", "truncate", "random"]))
    if mutation == "flip":
        for position in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
            raw[position] ^= data.draw(st.integers(1, 255))
    elif mutation == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        raw = bytearray(data.draw(st.binary(max_size=400)))
    path.write_bytes(bytes(raw))
    try:
        nn.load(path)  # a flip inside array data can leave a valid file: that is fine
    except ValueError as error:
        assert "not a valid tinygrad_edu checkpoint" in str(error)


def test_data_loader_refuses_a_boolean_batch_size_and_an_empty_dataset():
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(np.ones((4, 2)), np.zeros(4), batch_size=True)
    with pytest.raises(ValueError, match="the dataset is empty"):
        DataLoader(np.ones((0, 2)), np.zeros(0), batch_size=2)
