
import pytest
import tensorflow as tf

from keras_drnas.search_space import OP_NAMES, create_op


@pytest.mark.parametrize("name", OP_NAMES)
@pytest.mark.parametrize("stride", [1, 2])
def test_every_op_keeps_channels_and_reduces(name, stride):
    op = create_op(name, 8, stride)
    assert op(tf.zeros((1, 16, 16, 8))).shape == (1, 16 // stride, 16 // stride, 8)
