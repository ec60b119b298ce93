import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The tests' networks are tiny: on JAX compiling them takes most of a test's time; XLA's lowest
# optimization level compiles them ~40% faster, and without LLVM's expensive passes ~10% faster again
# (their processes inherit the flags).
JAX_TEST_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if os.environ.get("KERAS_BACKEND") == "jax":
    os.environ.setdefault("XLA_FLAGS", JAX_TEST_XLA_FLAGS)

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
