"""Measured TFLite latency: of a whole network, and of every block choice
of a mobilenet space (the latency table the search uses).

Latencies are LiteRT's on this machine's CPU, one thread by default (a
phone's big core is closer to one thread than to all of a laptop's), the
fastest of `repeats` timed runs after warm-up runs: other processes only
ever add time (as Python's `timeit` notes), and on this shared 2-core
machine a 7x7 block's median moved by 15-40% between measurements while its
fastest run stayed within 1% (0.940-0.942 ms in ten). A table measured on a phone
(TFLite's benchmark tool, per-block models) can be written in the same CSV
format instead.
"""

import time

import keras
import numpy as np

from keras_drnas.derived_model.export import to_tflite
from keras_drnas.search_space.mobilenet import block_op, head, inverted_residual, is_large_input, stem
from keras_drnas.search_space.space import get_space
from keras_drnas.search_strategy.latency import LatencyTable
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.quiet import filtered_native_stderr

WARMUP = 5


def tflite_latency_ms(model, repeats=50, threads=1):
    """Fastest milliseconds of one float32 TFLite inference of `model` (a
    Keras model, or a TFLite flatbuffer) on a batch of one."""
    from ai_edge_litert.interpreter import Interpreter

    flatbuffer = model if isinstance(model, bytes) else to_tflite(model)
    with filtered_native_stderr():
        interpreter = Interpreter(model_content=flatbuffer, num_threads=threads)
        interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    image = np.random.default_rng(0).random(source["shape"]).astype(np.float32)
    interpreter.set_tensor(source["index"], image)
    times = []
    for run in range(WARMUP + repeats):
        start = time.perf_counter()
        interpreter.invoke()
        if run >= WARMUP:
            times.append(time.perf_counter() - start)
    return 1000.0 * min(times)


def measure_latency_table(space="mobilenet", channels=16, num_classes=10, input_shape=(32, 32, 3), repeats=50,
                          threads=1, progress=None):
    """A `LatencyTable` of every block choice of a mobilenet `space`, each
    block measured alone at its own input size, and the fixed parts (stem
    with the first block, and the head with the classifier).

    Args:
        space: a mobilenet space (its stages and ops) or its name.
        channels: the first block's width, as the network will be built.
        num_classes: the classifier's outputs.
        input_shape: the images' (height, width, channels).
        repeats: timed runs per model (the fastest is kept).
        threads: LiteRT threads.
        progress: optional callable taking a line of text per measured block.
    """
    space = get_space(space)
    if not hasattr(space, "blocks"):
        raise InputError(f"Latency tables are for chain spaces such as mobilenet; {space.name} has cells.")
    large = is_large_input(input_shape[0])
    size = input_shape[0] // (2 if large else 1)

    def timed(layer, shape):
        inputs = keras.Input(shape, batch_size=1)
        return tflite_latency_ms(keras.Model(inputs, layer(inputs)), repeats, threads)

    fixed = timed(keras.Sequential([stem(channels, 2 if large else 1),
                                    inverted_residual(channels, channels, 3, 1, 1, "block_first")]), input_shape)
    mask = space.op_mask()
    block_ms = np.full((space.num_edges, space.num_ops), np.nan)
    last_width = channels
    for b, (in_width, out_width, stride) in enumerate(space.blocks(channels, large)):
        for o, op in enumerate(space.op_names):
            if mask[b][o]:
                block_ms[b, o] = 0.0 if op == "skip_connect" else timed(
                    block_op(op, in_width, out_width, stride), (size, size, in_width))
        if progress:
            progress(f"block {b} ({size}x{size}x{in_width} -> {out_width}, stride {stride}): "
                     + " ".join(f"{op}={ms:.3f}" for op, ms in zip(space.op_names, block_ms[b]) if not np.isnan(ms)))
        size //= stride
        last_width = out_width
    head_layers = keras.Sequential([head(space.head_width(channels)), keras.layers.GlobalAveragePooling2D(),
                                    keras.layers.Dense(num_classes)])
    fixed += timed(head_layers, (size, size, last_width))
    return LatencyTable(space, block_ms, fixed)
