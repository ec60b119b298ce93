"""The learned architecture distribution: one Dirichlet per edge.

`ArchitectureDistribution` owns the unconstrained matrix `eta` (edges x ops),
maps it to the Dirichlet concentration `beta = ELU(eta) + 1` and draws op
weights `theta ~ Dir(beta)` with `sample_dirichlet`, whose reparameterized
samples carry gradients from `theta` back to `eta` for concentrations of any
size. One instance serves every cell of one type, so all of them see the same
sample in a forward pass.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_drnas.utils.errors import InputError

tfd = tfp.distributions

RELAXATIONS = ("dirichlet", "softmax")
INFERENCE_MODES = ("mean", "sample")

# Samples are drawn in float64 (cast to float32 after): 1 / beta then stays
# finite down to eta ~ -700 instead of -88, and a compiled step measured no
# slower than in float32.
SAMPLING_DTYPE = tf.float64


def eta_to_concentration(eta):
    """beta = ELU(eta) + 1, always positive, 1 at eta = 0 (the anchor).

    Written as exp(eta) below 0: `elu(eta) + 1` rounds to 0 in float32 once
    exp(eta) is below float32's epsilon (eta < -17)."""
    return tf.where(eta > 0, eta + 1.0, tf.math.exp(tf.minimum(eta, 0.0)))


def eta_to_log_concentration(eta):
    """log beta: eta itself below 0 (exact for tiny beta), log1p(eta) above."""
    return tf.where(eta > 0, tf.math.log1p(tf.maximum(eta, 0.0)), eta)


# The smallest concentration drawn through TFP's own Gamma sampler, per
# sampling dtype. Below it a Gamma(beta) draw can underflow to the dtype's
# smallest number, which TFP clips to: the sample is then no longer exact and
# TFP's Dirichlet gradient turns NaN. Measured with 400,000 float64 draws
# each: none clipped at beta >= 0.03, 9 at 0.015, 344 at 0.01 (NaN gradients
# from 0.02); float32 clips from beta ~ 0.15 (4 in 10^6 at 0.135, 1% at
# 0.05). The chance is about tiny^beta, so these limits (2.5x the onset) make
# it ~1e-15 per draw: in float64 the augmentation is left to beta < 0.05,
# eta < -3, far below where a search's concentrations live.
IMPLICIT_MIN_CONCENTRATION = {tf.float64: 0.05, tf.float32: 0.4}


def sample_dirichlet(log_concentration, seed, mask=None):
    """theta ~ Dir(exp(log_concentration)) along the last axis, reparameterized
    and finite for any concentration, in the dtype of `log_concentration`.

    A Dirichlet sample is independent Gamma(beta) draws, normalized. Where
    TFP's Gamma sampler is exact in the sampling dtype (beta at or above
    `IMPLICIT_MIN_CONCENTRATION`: 0.05 in float64) the draw and its gradient
    are TFP's: implicit reparameterization, the estimator of the paper and
    of the reference code (`torch.distributions.Dirichlet.rsample`). Below
    that the draw would underflow, so it uses the shape augmentation
    identity (Marsaglia & Tsang, 2000): G = G' * U^(1/beta) ~ Gamma(beta) for
    G' ~ Gamma(beta + 1) and U ~ Uniform(0, 1), taken in log space,

        log G = log G' + log(U) * exp(-log beta).

    beta + 1 >= 1 keeps G' away from 0, so TFP's gradient for it stays
    finite; the second term is differentiated directly (Naesseth et al., 2017,
    use this augmentation for their Dirichlet gradients), an unbiased but
    noisier estimator. With respect to log beta it carries 1 / beta, never
    1 / beta^2, and d log beta / d eta = 1 for eta < 0, so nothing overflows
    for beta down to exp(-20). theta is the softmax of log G: tiny weights
    are exactly 0 rather than NaN.

    Args:
        log_concentration: log beta, shape (..., num_ops), float32 or float64.
        seed: an int32 pair for TFP's stateless samplers.
        mask: optional booleans of the same shape; masked ops weigh exactly 0
            and a row with one unmasked op weighs 1 on it.

    Example:
    >>> theta = sample_dirichlet(tf.constant([[-20.0, 0.0, 1.0]]), tf.constant([1, 2]))
    >>> [round(float(total), 5) for total in tf.reduce_sum(theta, axis=1)]
    [1.0]
    """
    gamma_seed, uniform_seed = tfp.random.split_seed(seed)
    dtype = log_concentration.dtype
    beta = tf.math.exp(log_concentration)
    augmented = beta < IMPLICIT_MIN_CONCENTRATION[dtype]
    gamma = tfd.Gamma(tf.where(augmented, beta + 1.0, beta), rate=tf.ones((), dtype)).sample(seed=gamma_seed)
    uniform = tf.random.stateless_uniform(tf.shape(log_concentration), seed=uniform_seed, dtype=dtype)
    # The uniform is in [0, 1): log(1 - u) is finite where log(u) could be -inf.
    # exp(-log beta) is evaluated at beta < 1 only, so neither branch overflows.
    shrink = tf.math.log1p(-uniform) * tf.math.exp(-tf.minimum(log_concentration, 0.0))
    log_gamma = tf.math.log(gamma) + tf.where(augmented, shrink, tf.zeros((), dtype))
    if mask is not None:
        log_gamma = tf.where(mask, log_gamma, tf.constant(-np.inf, dtype))
    return tf.nn.softmax(log_gamma, axis=-1)


def full_mask(num_edges, num_ops):
    """Every op of every edge active."""
    return [[True] * num_ops for _ in range(num_edges)]


def validate_mask(op_mask, num_edges, num_ops):
    """`op_mask` as nested lists of bools, or a clear error."""
    mask = np.asarray(op_mask, dtype=bool)
    if mask.shape != (num_edges, num_ops):
        raise InputError(
            f"op_mask must have shape ({num_edges}, {num_ops}) (edges x ops), "
            f"got {mask.shape}."
        )
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        raise InputError(f"op_mask leaves no op on edges {empty.tolist()}; keep at least one.")
    return mask.tolist()


def top_k_mask(eta, k, op_mask=None):
    """Keeps the k ops of largest concentration on each edge (pruning)."""
    eta = np.asarray(eta, dtype=np.float64)
    if op_mask is not None:
        eta = np.where(np.asarray(op_mask, dtype=bool), eta, -np.inf)
    if not 1 <= k <= eta.shape[1]:
        raise InputError(f"k must be between 1 and {eta.shape[1]}, got {k}.")
    keep = np.argsort(-eta, axis=1, kind="stable")[:, :k]
    mask = np.zeros(eta.shape, dtype=bool)
    np.put_along_axis(mask, keep, True, axis=1)
    if op_mask is not None:
        mask &= np.asarray(op_mask, dtype=bool)
    return mask.tolist()


@keras.saving.register_keras_serializable(package="keras_drnas")
class ArchitectureDistribution(keras.layers.Layer):
    """Dirichlet distributions over the ops of every edge of a cell type.

    Args:
        num_edges: rows of the architecture matrix.
        num_ops: candidate ops per edge.
        relaxation: `"dirichlet"` (DrNAS) or `"softmax"` (the plain DARTS
            baseline, theta = softmax(eta)).
        inference: op weights outside training, `"mean"` (the Dirichlet mean,
            deterministic) or `"sample"` (as the reference code evaluates).
        op_mask: edges x ops booleans; masked (pruned) ops get weight 0 and
            their cells do not compute them.
        seed: integer seed of the sampler, for reproducible searches.

    Example:
    >>> dist = ArchitectureDistribution(num_edges=6, num_ops=5, seed=0)
    >>> dist.build()
    >>> tuple(dist.op_weights(training=True).shape)
    (6, 5)
    """

    def __init__(
        self,
        num_edges,
        num_ops,
        relaxation="dirichlet",
        inference="mean",
        op_mask=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if relaxation not in RELAXATIONS:
            raise InputError(f"relaxation must be one of {RELAXATIONS}, got {relaxation!r}.")
        if inference not in INFERENCE_MODES:
            raise InputError(f"inference must be one of {INFERENCE_MODES}, got {inference!r}.")
        self.num_edges = int(num_edges)
        self.num_ops = int(num_ops)
        self.relaxation = relaxation
        self.inference = inference
        self.op_mask = validate_mask(
            op_mask if op_mask is not None else full_mask(self.num_edges, self.num_ops),
            self.num_edges,
            self.num_ops,
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="sampler_seed")

    def build(self, input_shape=None):
        if self.built:
            return
        self.eta = self.add_weight(
            name="eta",
            shape=(self.num_edges, self.num_ops),
            initializer=keras.initializers.RandomNormal(stddev=1e-3, seed=self.seed),
            trainable=True,
            autocast=False,  # concentrations stay float32 under a mixed precision policy
        )
        self.eta.is_architecture = True
        self.built = True

    @property
    def is_masked(self):
        return not all(all(row) for row in self.op_mask)

    def concentration(self):
        """beta, edges x ops; masked ops keep their value but are never used."""
        return eta_to_concentration(tf.convert_to_tensor(self.eta))

    def mean(self):
        """E[theta] = beta / sum(beta) over the unmasked ops of each edge."""
        beta = self.concentration() * self._mask_tensor()
        return beta / tf.reduce_sum(beta, axis=1, keepdims=True)

    def softmax(self):
        eta = tf.where(self._mask_tensor() > 0, tf.convert_to_tensor(self.eta), -np.inf)
        return tf.nn.softmax(eta, axis=1)

    def sample(self):
        """One theta ~ Dir(beta) per edge over its unmasked ops, reparameterized, float32."""
        log_beta = tf.cast(eta_to_log_concentration(tf.convert_to_tensor(self.eta)), SAMPLING_DTYPE)
        theta = sample_dirichlet(log_beta, self._next_seed(), mask=tf.constant(self.op_mask))
        return tf.cast(theta, tf.float32)

    def op_weights(self, training=False):
        """The theta the cells mix their ops with in this forward pass."""
        if self.relaxation == "softmax":
            return self.softmax()
        if training or self.inference == "sample":
            return self.sample()
        return self.mean()

    def expected_weights(self):
        """Deterministic weights used for derivation and reporting."""
        return self.softmax() if self.relaxation == "softmax" else self.mean()

    def entropy(self):
        """Mean differential entropy of the edge distributions."""
        if self.relaxation == "softmax":
            p = self.softmax()
            return -tf.reduce_mean(tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(p), p), axis=1))
        beta = tf.cast(self.concentration(), tf.float64)
        total = tf.zeros((), tf.float64)
        for index in self._kept_index_groups():  # one op is a point mass: left out
            total += tf.reduce_sum(tfd.Dirichlet(tf.gather_nd(beta, index)).entropy())
        return tf.cast(total / self.num_edges, tf.float32)

    def kl_to_uniform(self):
        """sum over edges of KL(Dir(beta) || Dir(1)), the code's KL anchor."""
        beta = tf.cast(self.concentration(), tf.float64)
        total = tf.zeros((), tf.float64)
        for index in self._kept_index_groups():
            kept = tf.gather_nd(beta, index)
            total += tf.reduce_sum(tfd.Dirichlet(kept).kl_divergence(tfd.Dirichlet(tf.ones_like(kept))))
        return tf.cast(total, tf.float32)

    def prune(self, k):
        """Masks all but the k ops of largest concentration on every edge.

        Returns the new mask. Kept `eta` values are untouched.
        """
        self.op_mask = top_k_mask(keras.ops.convert_to_numpy(self.eta), k, self.op_mask)
        return self.op_mask

    def _mask_tensor(self):
        return tf.constant(self.op_mask, tf.float32)

    def _kept_index_groups(self):
        """(row, col) index tensors, one per distinct kept-op count of two or more."""
        by_count = {}
        for row, kept in enumerate(self.op_mask):
            cols = [c for c, on in enumerate(kept) if on]
            if len(cols) >= 2:
                by_count.setdefault(len(cols), []).append([[row, c] for c in cols])
        return [tf.constant(rows, tf.int32) for rows in by_count.values()]

    def _next_seed(self):
        # TFP's stateless samplers take an int32 pair.
        return tf.cast(self.seed_generator.next(), tf.int32)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_edges=self.num_edges,
            num_ops=self.num_ops,
            relaxation=self.relaxation,
            inference=self.inference,
            op_mask=self.op_mask,
            seed=self.seed,
        )
        return config


def owned_distribution(owner, num_edges, num_ops, op_mask=None, name="distribution", seed_offset=0):
    """The distribution a layer or supernet learns, configured from the
    owner's `relaxation`, `inference` and `seed` (offset so that two cell
    types of one network draw different samples)."""
    seed = None if owner.seed is None else owner.seed + seed_offset
    return ArchitectureDistribution(
        num_edges,
        num_ops,
        relaxation=owner.relaxation,
        inference=owner.inference,
        op_mask=op_mask,
        seed=seed,
        name=name,
    )
