
import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_drnas as kd
from keras_drnas.data import search_pairs
from keras_drnas.callbacks import ProgressiveLearning, SearchCheckpoint, Stage
from tests.helpers import compiled


def _resumable_run(tmp_path, epochs, stop_after=None, progressive=False):
    """A search of `epochs` epochs, optionally stopped after `stop_after` and
    resumed from its checkpoint in a fresh Keras session."""

    rng = np.random.default_rng(0)
    x = rng.random((96, 8, 8, 3)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > 0.5).astype("int32")
    directory = str(tmp_path / "checkpoint")

    def session(initial_epoch, last_epoch, state=None):
        keras.backend.clear_session()
        keras.utils.set_random_seed(123)  # as the CLI does with --seed, which a checkpoint keeps
        tf.config.experimental.enable_op_determinism()
        stages = ProgressiveLearning([Stage(2, 2, 5), Stage(2, 1, 3)], seed=0) if progressive else None
        supernet = (SearchCheckpointed.supernet_from(state) if state
                    else kd.NASBench201Supernet(channels=4, cells_per_stage=1, num_classes=2, partial_channels=2 if progressive else 1, seed=0))
        search = compiled(supernet)
        pairs = search_pairs((x[:48], y[:48]), (x[48:], y[48:]), 16, 2, seed=0,
                             epochs=epochs, initial_epoch=initial_epoch)
        search.build_for(pairs)
        if state:
            SearchCheckpointed.restore(search, directory, state, stages)
        callbacks = ([stages] if stages else []) + [SearchCheckpoint(directory, stages), Interrupt(last_epoch)]
        search.fit(pairs, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=3, verbose=0,
                   callbacks=callbacks)
        return search

    class Interrupt(keras.callbacks.Callback):
        """Stops the run after an epoch, as a crash right after a checkpoint would."""

        def __init__(self, last_epoch):
            super().__init__()
            self.last_epoch = last_epoch

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == self.last_epoch:
                self.model.stop_training = True

    SearchCheckpointed = SearchCheckpoint
    if stop_after is None:
        search = session(0, epochs)
    else:
        session(0, stop_after)
        state = SearchCheckpoint.load_state(directory)
        assert state["epoch"] == stop_after
        search = session(stop_after, epochs, state)
    return search


@pytest.mark.parametrize("progressive", [False, True])
def test_resumed_search_continues_exactly(tmp_path, progressive):
    straight = _resumable_run(tmp_path / "a", 4, progressive=progressive)
    resumed = _resumable_run(tmp_path / "b", 4, stop_after=3 if progressive else 2, progressive=progressive)
    assert resumed.genotype() == straight.genotype()
    assert len(resumed.genotype_history) == 4
    assert resumed.optimizer.iterations.numpy() == straight.optimizer.iterations.numpy() == 12
    for a, b in zip(straight.model.weights, resumed.model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7, err_msg=a.path)
