import keras
import numpy as np
import pytest

from keras_drnas.data import digits_search_data
from keras_drnas.derived_model import RetrainRecipe, count_parameters
from keras_drnas.tuning import Budget, BudgetTuner

RECIPE = RetrainRecipe.cpu(augment=False)


@pytest.fixture(scope="module")
def digits():
    data = digits_search_data()
    return data.train.take(256).cache(), data.validation.take(128).cache()


class InterruptSecondTrial(keras.callbacks.Callback):
    """Stops the process the way Ctrl-C does, once the second trial trains
    (keras-tuner deep-copies callbacks per trial, so the count lives on the class)."""

    trials_started = 0

    def on_train_begin(self, logs=None):
        type(self).trials_started += 1
        if type(self).trials_started == 2:
            raise KeyboardInterrupt


def test_two_trials_within_budget_give_a_plain_keras_model(nb201_run, digits, tmp_path):
    train, validation = digits
    tuner = BudgetTuner(nb201_run, Budget(max_parameters=12_000), max_trials=2, recipe=RECIPE,
                        directory=str(tmp_path / "tune"), project_name="digits", overwrite=True)
    tuner.search(train, validation_data=validation, epochs=1, verbose=0)
    trials = tuner.oracle.get_best_trials(2)
    assert [t.status for t in trials] == ["COMPLETED", "COMPLETED"]
    assert all(t.hyperparameters["parameters"] <= 12_000 for t in trials)
    assert len({t.hyperparameters["genotype"] for t in trials}) == 2
    best = tuner.get_best_models(1)[0]
    assert count_parameters(best) == trials[0].hyperparameters["parameters"]
    best.save(tmp_path / "best.keras")
    loaded = keras.models.load_model(tmp_path / "best.keras")  # built-in layers: no custom objects
    images = np.stack([x for x, _ in validation.take(4).as_numpy_iterator()])
    np.testing.assert_allclose(loaded.predict(images, verbose=0), best.predict(images, verbose=0), atol=1e-5)
    best.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    accuracy = best.evaluate(validation.batch(64), verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(trials[0].score, abs=1e-6)  # the weights of the trial's best epoch


def test_an_interrupted_tuning_resumes(nb201_run, digits, tmp_path):
    train, validation = digits
    settings = {"max_trials": 2, "recipe": RECIPE, "directory": str(tmp_path / "tune"), "project_name": "resume"}
    tuner = BudgetTuner(nb201_run, Budget(max_parameters=12_000), overwrite=True, **settings)
    with pytest.raises(KeyboardInterrupt):
        tuner.search(train, validation_data=validation, epochs=1, verbose=0, callbacks=[InterruptSecondTrial()])
    first = {t.trial_id: t.score for t in tuner.oracle.trials.values() if t.status == "COMPLETED"}
    assert len(first) == 1
    # keras-tuner's reload: the finished trial, the oracle's state and the interrupted trial, sent for retry.
    resumed = BudgetTuner(nb201_run, Budget(max_parameters=12_000), overwrite=False, **settings)
    assert resumed.oracle.draws == tuner.oracle.draws and resumed.oracle.candidates == tuner.oracle.candidates
    resumed.search(train, validation_data=validation, epochs=1, verbose=0)
    done = {t.trial_id: t.score for t in resumed.oracle.trials.values() if t.status == "COMPLETED"}
    assert len(done) == 2 and all(done[k] == v for k, v in first.items())  # the finished trial is not rerun


def test_bad_data_fails_before_the_first_trial(nb201_run, digits, tmp_path):
    train, validation = digits
    tuner = BudgetTuner(nb201_run, Budget(max_parameters=12_000), max_trials=1, recipe=RECIPE,
                        directory=str(tmp_path / "tune"), project_name="bad", overwrite=True)
    with pytest.raises(ValueError, match="Pass validation_data="):
        tuner.search(train, epochs=1)
    with pytest.raises(ValueError, match="Pass it unbatched"):
        tuner.search(train.batch(8), validation_data=validation, epochs=1)
    with pytest.raises(ValueError, match="Not one full batch of 64 examples"):
        tuner.search(train.take(10), validation_data=validation, epochs=1)
    assert not tuner.oracle.trials
