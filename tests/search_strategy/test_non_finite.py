import h5py
import numpy as np
import pytest

import keras_drnas as kd
from keras_drnas.callbacks import SearchCheckpoint
from keras_drnas.cli import main
from keras_drnas.search_strategy.non_finite import NonFiniteError
from tests.helpers import compiled, tiny_pairs


def _all_finite(weights_path):
    arrays = []
    with h5py.File(weights_path, "r") as f:
        f.visititems(lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    return bool(arrays) and all(np.all(np.isfinite(a)) for a in arrays if np.issubdtype(a.dtype, np.floating))


@pytest.mark.parametrize("learning_rate,symptom", [
    (1e12, "loss is nan"),  # the loss itself turns NaN
    (1e6, "moving_variance"),  # the loss stays finite; the update leaves non-finite statistics
])
def test_a_diverging_search_stops_naming_epoch_and_step_and_saves_nothing_non_finite(
        tmp_path, learning_rate, symptom):
    directory = tmp_path / "checkpoint"
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, num_classes=10, seed=0),
                      learning_rate=learning_rate)
    with pytest.raises(NonFiniteError, match=r"diverged at epoch 1, step 2 of 8: .*" + symptom) as caught:
        search.fit(tiny_pairs(n=256, batch_size=16), epochs=2, verbose=0,
                   callbacks=[SearchCheckpoint(directory, save_freq=1)])
    assert "Lower the learning rate" in str(caught.value)
    state = SearchCheckpoint.load_state(directory)
    assert (state["epoch"], state["step"]) == (0, 1)  # the last finite state
    assert _all_finite(directory / state["weights"])


def test_the_checkpoint_refuses_non_finite_weights(tmp_path):
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, num_classes=10, seed=0))
    search.build_for(tiny_pairs(n=64, batch_size=16))
    checkpoint = SearchCheckpoint(tmp_path / "checkpoint", save_freq=1)
    checkpoint.set_model(search)
    checkpoint.set_params({"epochs": 1, "steps": 2})
    checkpoint.on_train_begin()
    checkpoint.on_epoch_begin(0)
    search.architecture_variables[0].assign(np.full(search.architecture_variables[0].shape, np.inf))
    with pytest.raises(NonFiniteError, match=r"Not checkpointing the search in epoch 1 after step 1: 1 variable holds .*eta"):
        checkpoint.on_train_batch_end(0)
    assert SearchCheckpoint.load_state(tmp_path / "checkpoint") is None


def test_the_command_line_prints_the_divergence_without_traceback(tmp_path, capsys):
    code = main(["search", "--channels", "4", "--cells-per-stage", "1", "--epochs", "1", "--verbose", "0",
                 "--learning-rate", "1e12", "--no-plots", "--exploration-samples", "0",
                 "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("keras-drnas: error: The search diverged at epoch 1, step "), err
