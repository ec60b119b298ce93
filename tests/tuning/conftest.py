import pytest

from keras_drnas.search_space import DARTS
from tests.tuning.search_files import write_run


@pytest.fixture
def nb201_run(tmp_path):
    return write_run(tmp_path / "search")


@pytest.fixture
def darts_run(tmp_path):
    return write_run(tmp_path / "darts_search", space=DARTS)
