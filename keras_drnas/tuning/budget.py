"""Resource limits of a budget search: parameters, multiply-adds, latency."""

import dataclasses
import time

import numpy as np

from keras_drnas.derived_model.counting import count_flops, count_parameters
from keras_drnas.derived_model.export import to_tflite
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.quiet import filtered_native_stderr


def tflite_latency_ms(model, runs=20, threads=1):
    """Median milliseconds of one float32 TFLite inference of one image,
    measured on this machine with the LiteRT interpreter (after 3 warm-up
    runs; one thread by default, so the number does not depend on how busy
    the other cores are)."""
    from ai_edge_litert.interpreter import Interpreter

    flatbuffer = to_tflite(model)
    with filtered_native_stderr():  # the delegate announces itself on stderr
        interpreter = Interpreter(model_content=flatbuffer, num_threads=threads)
        interpreter.allocate_tensors()
        source = interpreter.get_input_details()[0]
        interpreter.set_tensor(source["index"], np.zeros(source["shape"], np.float32))
        times = []
        for _ in range(3 + runs):
            start = time.perf_counter()
            interpreter.invoke()
            times.append(time.perf_counter() - start)
    return float(np.median(times[3:]) * 1000)


@dataclasses.dataclass(frozen=True)
class Budget:
    """The limits a candidate network must meet; None means no limit.

    Args:
        max_parameters: parameters, counted as `count_parameters` does.
        max_multiply_adds: multiply-adds of one image (`count_flops`).
        max_latency_ms: median milliseconds of one TFLite inference on this
            machine (`tflite_latency_ms`); measured only when set, since
            each measurement converts the model.
        latency_runs: timed runs per latency measurement.
        latency_threads: interpreter threads of a latency measurement.

    Example:
    >>> budget = Budget(max_parameters=50_000)
    >>> budget.violations({"parameters": 61_000, "multiply_adds": 2_000_000})
    ['parameters 61,000 > 50,000']
    """

    max_parameters: int = None
    max_multiply_adds: int = None
    max_latency_ms: float = None
    latency_runs: int = 20
    latency_threads: int = 1

    def __post_init__(self):
        for name in ("max_parameters", "max_multiply_adds", "max_latency_ms"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"{name}={value} is no limit; pass a positive {name}=... or leave it out.")

    def measure(self, model):
        """`{"parameters", "multiply_adds"[, "latency_ms"]}` of a Keras model."""
        measures = {"parameters": count_parameters(model), "multiply_adds": count_flops(model)}
        if self.max_latency_ms is not None:
            measures["latency_ms"] = round(tflite_latency_ms(model, self.latency_runs, self.latency_threads), 4)
        return measures

    def limits(self):
        """`(measure, limit)` of every limit set."""
        pairs = (("parameters", self.max_parameters), ("multiply_adds", self.max_multiply_adds),
                 ("latency_ms", self.max_latency_ms))
        return [(key, limit) for key, limit in pairs if limit is not None]

    def violations(self, measures):
        """The limits `measures` exceed, as readable text (empty: within budget)."""
        return [f"{key} {measures[key]:,} > {limit:,}" for key, limit in self.limits() if measures[key] > limit]

    def describe(self):
        """'parameters <= 50,000, latency_ms <= 2.0' (or 'no limits')."""
        return ", ".join(f"{key} <= {limit:,}" for key, limit in self.limits()) or "no limits"
