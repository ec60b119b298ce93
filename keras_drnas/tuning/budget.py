"""Resource limits of a budget search: parameters, multiply-adds, latency."""

import dataclasses

from keras_drnas.derived_model.counting import count_flops, count_parameters
from keras_drnas.derived_model.latency import tflite_latency_ms
from keras_drnas.utils.errors import InputError


@dataclasses.dataclass(frozen=True)
class Budget:
    """The limits a candidate network must meet; None means no limit.

    Args:
        max_parameters: parameters, counted as `count_parameters` does.
        max_multiply_adds: multiply-adds of one image (`count_flops`).
        max_latency_ms: the fastest milliseconds of one TFLite inference on this
            machine (`tflite_latency_ms`); measured only when set, since
            each measurement converts the model.
        latency_runs: timed runs per latency measurement.
        latency_threads: interpreter threads of a latency measurement.
        latency_table: a `LatencyTable` of the searched mobilenet space:
            under `max_latency_ms`, a candidate's latency is then the
            table's prediction (its blocks' latencies plus the fixed parts,
            e.g. measured on a phone) instead of a measurement here.

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
    latency_table: object = None

    def __post_init__(self):
        for name in ("max_parameters", "max_multiply_adds", "max_latency_ms"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"{name}={value} is no limit; pass a positive {name}=... or leave it out.")

    def measure(self, model, genotype=None):
        """`{"parameters", "multiply_adds"[, "latency_ms"]}` of a Keras model
        (the network of `genotype`, which a `latency_table` needs)."""
        measures = {"parameters": count_parameters(model), "multiply_adds": count_flops(model)}
        if self.max_latency_ms is None:
            return measures
        if self.latency_table is None:
            latency = tflite_latency_ms(model, self.latency_runs, self.latency_threads)
        elif genotype is None:
            raise InputError("A budget with a latency_table predicts from the genotype: pass measure(model, genotype).")
        else:
            latency = self.latency_table.predict_ms(genotype)
        measures["latency_ms"] = round(latency, 4)
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
        described = ", ".join(f"{key} <= {limit:,}" for key, limit in self.limits()) or "no limits"
        if self.max_latency_ms is not None and self.latency_table is not None:
            described += " (latency from the table)"
        return described
