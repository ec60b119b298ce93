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
from keras import ops

from keras_drnas.utils.errors import InputError

if keras.backend.backend() == "tensorflow":  # TFP's samplers; imported here, not inside the first traced step
    import tensorflow as tf
    import tensorflow_probability as tfp
else:
    import jax
    import jax.scipy.special

RELAXATIONS = ("dirichlet", "softmax")
INFERENCE_MODES = ("mean", "sample")


def sampling_dtype():
    """Samples are drawn in float64 on TensorFlow (cast to float32 after):
    1 / beta then stays finite down to eta ~ -700 instead of -88, and a
    compiled step measured no slower. JAX computes in float32 unless x64 is
    switched on for the whole process, so it samples in float32."""
    return "float64" if keras.backend.backend() == "tensorflow" else "float32"


def eta_to_concentration(eta):
    """beta = ELU(eta) + 1, always positive, 1 at eta = 0 (the anchor).

    Written as exp(eta) below 0: `elu(eta) + 1` rounds to 0 in float32 once
    exp(eta) is below float32's epsilon (eta < -17)."""
    eta = ops.convert_to_tensor(eta)  # a variable too: JAX's `where` takes arrays only
    return ops.where(eta > 0, eta + 1.0, ops.exp(ops.minimum(eta, 0.0)))


def eta_to_log_concentration(eta):
    """log beta: eta itself below 0 (exact for tiny beta), log1p(eta) above."""
    eta = ops.convert_to_tensor(eta)
    return ops.where(eta > 0, ops.log1p(ops.maximum(eta, 0.0)), eta)


# The smallest concentration drawn through the backend's own Gamma sampler
# (implicit reparameterization), per sampling dtype. Below it a Gamma(beta)
# draw can underflow to the dtype's smallest number, which TFP clips to: the
# sample is then no longer exact and TFP's Dirichlet gradient turns NaN.
# Measured with 400,000 float64 draws each: none clipped at beta >= 0.03, 9
# at 0.015, 344 at 0.01 (NaN gradients from 0.02); float32 clips from beta ~
# 0.15 (4 in 10^6 at 0.135, 1% at 0.05). The chance is about tiny^beta, so
# these limits (2.5x the onset) make it ~1e-15 per draw: in float64 the
# augmentation is left to beta < 0.05, eta < -3, far below where a search's
# concentrations live.
IMPLICIT_MIN_CONCENTRATION = {"float64": 0.05, "float32": 0.4}


def sample_dirichlet(log_concentration, seed, mask=None):
    """theta ~ Dir(exp(log_concentration)) along the last axis, reparameterized
    and finite for any concentration, in the dtype of `log_concentration`.

    A Dirichlet sample is independent Gamma(beta) draws, normalized. Where
    the backend's Gamma sampler is exact in the sampling dtype (beta at or
    above `IMPLICIT_MIN_CONCENTRATION`: 0.05 in float64, 0.4 in float32) the
    draw and its gradient are the backend's (TFP's on TensorFlow,
    `jax.random.gamma`'s on JAX): implicit reparameterization, the estimator
    of the paper and of the reference code
    (`torch.distributions.Dirichlet.rsample`). Below that the draw would
    underflow, so it uses the shape augmentation identity (Marsaglia &
    Tsang, 2000): G = G' * U^(1/beta) ~ Gamma(beta) for G' ~ Gamma(beta + 1)
    and U ~ Uniform(0, 1), taken in log space,

        log G = log G' + log(U) * exp(-log beta).

    beta + 1 >= 1 keeps G' away from 0, so its implicit gradient stays
    finite; the second term is differentiated directly (Naesseth et al.,
    2017, use this augmentation for their Dirichlet gradients), an unbiased
    but noisier estimator. With respect to log beta it carries 1 / beta,
    never 1 / beta^2, and d log beta / d eta = 1 for eta < 0, so nothing
    overflows for beta down to exp(-20). theta is the softmax of log G: tiny
    weights are exactly 0 rather than NaN.

    Args:
        log_concentration: log beta, shape (..., num_ops), float32 or float64.
        seed: on TensorFlow an int32 pair for TFP's stateless samplers; on
            JAX a `keras.random.SeedGenerator`, an integer or a JAX key.
        mask: optional booleans of the same shape; masked ops weigh exactly 0
            and a row with one unmasked op weighs 1 on it.

    Example:
    >>> import tensorflow as tf
    >>> theta = sample_dirichlet(tf.constant([[-20.0, 0.0, 1.0]]), tf.constant([1, 2]))
    >>> [round(float(total), 5) for total in keras.ops.sum(theta, axis=1)]
    [1.0]
    """
    log_concentration = ops.convert_to_tensor(log_concentration)
    dtype = keras.backend.standardize_dtype(log_concentration.dtype)
    beta = ops.exp(log_concentration)
    augmented = beta < IMPLICIT_MIN_CONCENTRATION[dtype]
    gamma, uniform = _gamma_and_uniform(ops.where(augmented, beta + 1.0, beta), seed, dtype)
    # The uniform is in [0, 1): log(1 - u) is finite where log(u) could be -inf.
    # exp(-log beta) is evaluated at beta < 1 only, so neither branch overflows.
    shrink = ops.log1p(-uniform) * ops.exp(-ops.minimum(log_concentration, 0.0))
    log_gamma = ops.log(gamma) + ops.where(augmented, shrink, ops.zeros_like(shrink))
    if mask is not None:
        log_gamma = ops.where(mask, log_gamma, ops.full_like(log_gamma, -np.inf))
    return ops.softmax(log_gamma, axis=-1)


def _gamma_and_uniform(alpha, seed, dtype):
    """Gamma(alpha) draws carrying the implicit gradient with respect to
    alpha, and independent Uniform(0, 1) draws of the same shape."""
    if keras.backend.backend() == "tensorflow":
        gamma_seed, uniform_seed = tfp.random.split_seed(seed)
        gamma = tfp.distributions.Gamma(alpha, rate=tf.ones((), dtype)).sample(seed=gamma_seed)
        return gamma, tf.random.stateless_uniform(tf.shape(alpha), seed=uniform_seed, dtype=dtype)
    if isinstance(seed, keras.random.SeedGenerator):
        gamma_seed = uniform_seed = seed  # it advances between the draws
    else:
        gamma_seed, uniform_seed = jax.random.split(jax.random.key(seed) if isinstance(seed, int) else seed)
    # keras.random.gamma is jax.random.gamma, differentiated implicitly with respect to alpha.
    gamma = keras.random.gamma(ops.shape(alpha), alpha, dtype=dtype, seed=gamma_seed)
    return gamma, keras.random.uniform(ops.shape(alpha), dtype=dtype, seed=uniform_seed)


def _lgamma_digamma():
    """log Gamma and digamma of the backend (`keras.ops` has neither)."""
    if keras.backend.backend() == "tensorflow":
        return tf.math.lgamma, tf.math.digamma
    return jax.scipy.special.gammaln, jax.scipy.special.digamma


def dirichlet_entropy_and_kl(beta, mask):
    """Per edge (rows of `beta`, over the ops `mask` keeps): the
    differential entropy of Dir(beta) and KL(Dir(beta) || Dir(1)), both 0
    on edges with fewer than two kept ops (a point mass).

        H  = sum lgamma(b) - lgamma(b0) + (b0 - K) digamma(b0) - sum (b - 1) digamma(b)
        KL = lgamma(b0) - sum lgamma(b) - lgamma(K) + sum (b - 1) (digamma(b) - digamma(b0))
    """
    lgamma, digamma = _lgamma_digamma()
    mask = ops.cast(mask, beta.dtype)
    beta = ops.where(mask > 0, beta, ops.ones_like(beta))  # a masked op adds lgamma(1) = 0 and (1 - 1) * ... = 0
    kept = ops.sum(mask, axis=-1)
    total = ops.sum(beta * mask, axis=-1)
    sum_lgamma = ops.sum(lgamma(beta) * mask, axis=-1)
    weighted_digamma = ops.sum((beta - 1.0) * digamma(beta) * mask, axis=-1)
    entropy = sum_lgamma - lgamma(total) + (total - kept) * digamma(total) - weighted_digamma
    kl = lgamma(total) - sum_lgamma - lgamma(kept) + weighted_digamma - (total - kept) * digamma(total)
    several = ops.cast(kept >= 2, beta.dtype)
    return entropy * several, kl * several


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
        return eta_to_concentration(ops.convert_to_tensor(self.eta))

    def mean(self):
        """E[theta] = beta / sum(beta) over the unmasked ops of each edge."""
        beta = self.concentration() * self._mask_tensor()
        return beta / ops.sum(beta, axis=1, keepdims=True)

    def softmax(self):
        eta = ops.convert_to_tensor(self.eta)
        return ops.softmax(ops.where(self._mask_tensor() > 0, eta, ops.full_like(eta, -np.inf)), axis=1)

    def sample(self):
        """One theta ~ Dir(beta) per edge over its unmasked ops, reparameterized, float32."""
        log_beta = ops.cast(eta_to_log_concentration(ops.convert_to_tensor(self.eta)), sampling_dtype())
        theta = sample_dirichlet(log_beta, self._next_seed(), mask=ops.convert_to_tensor(self.op_mask))
        return ops.cast(theta, "float32")

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
        """Mean differential entropy of the edge distributions (an edge
        with one kept op is a point mass and adds 0)."""
        if self.relaxation == "softmax":
            p = self.softmax()
            log_p = ops.log(ops.where(p > 0, p, ops.ones_like(p)))  # 0 log 0 = 0
            return -ops.mean(ops.sum(log_p * p, axis=1))
        entropy, _ = dirichlet_entropy_and_kl(ops.cast(self.concentration(), sampling_dtype()), self._mask_tensor())
        return ops.cast(ops.mean(entropy), "float32")

    def kl_to_uniform(self):
        """sum over edges of KL(Dir(beta) || Dir(1)), the code's KL anchor."""
        _, kl = dirichlet_entropy_and_kl(ops.cast(self.concentration(), sampling_dtype()), self._mask_tensor())
        return ops.cast(ops.sum(kl), "float32")

    def prune(self, k):
        """Masks all but the k ops of largest concentration on every edge.

        Returns the new mask. Kept `eta` values are untouched.
        """
        self.op_mask = top_k_mask(keras.ops.convert_to_numpy(self.eta), k, self.op_mask)
        return self.op_mask

    def _mask_tensor(self):
        return ops.convert_to_tensor(np.asarray(self.op_mask, np.float32))

    def _next_seed(self):
        if keras.backend.backend() == "tensorflow":
            return ops.cast(self.seed_generator.next(), "int32")  # TFP's stateless samplers take an int32 pair
        return self.seed_generator

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
