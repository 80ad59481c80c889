r"""Seeded synthetic face-embedding benchmark, version 2 (no download needed).

The generator produces L2-normalised "face embeddings" with identity labels. It is calibrated so
that the premise of Ada-NETS (ICLR 2022) holds, as it does on real embeddings with natural
identities: a plain kNN-threshold baseline gets a mediocre pairwise F; averaging each sample
over a *clean* neighbourhood of its own identity (the max-Q prefix, what Ada-NETS' adaptive
filter learns to predict) helps a lot; averaging over a plain top-20 kNN list (noisy
neighbourhoods) helps little; and no linear map or per-sample network learned on the train
identities removes the nuisance, because it is identity-specific or nonlinear, never a subspace
shared by all identities. (Version 1 had a shared nuisance subspace, which a linear map learned
on train removed: projecting out 16 within-class-scatter directions lifted ``knn_cc`` from 0.69
to 0.99.)

Generative model
----------------
All draws for one split come from one RNG stream seeded by ``(seed, crc32(split))``, so splits
draw disjoint identities (and families); nothing is shared between splits. Each ingredient
stands for a property of face embeddings:

* **Long-tailed identity sizes** (``small_frac``, ``small_mean``, ``size_median``,
  ``size_sigma``, ``size_max``): with probability ``small_frac`` an identity is small,
  ``1 + Geometric`` of mean ``small_mean`` (singletons included), otherwise
  ``round(LogNormal(log(size_median), size_sigma))`` clipped to ``[2, size_max]``; sizes are
  drawn until ``n_samples`` is reached (the last identity is truncated, so ``N == n_samples``).
  Face datasets have a few celebrities with hundreds of photos and many people with a handful.
* **Look-alike families** (``family_mean``, ``family_spread``): consecutive identities are
  grouped into families of ``1 + Poisson(family_mean - 1)`` identities; family ``F`` has a centre
  ``f_F`` uniform on the unit sphere, identity ``i`` has individual traits
  ``g_i = family_spread * N(0, I/dim)`` (norm about ``family_spread``) and centre ``f_F + g_i``.
  Two members of a family are at cosine about ``1 / (1 + family_spread^2)`` (0.74 at the
  default): relatives, twins, people of one age/gender/ethnic group and style, who crowd in the
  embedding space. Families are random points of the full space, not a shared subspace.
* **Identity-specific appearance modes** (``mode_scale``, ``mode_lambda``, ``max_modes``,
  ``mode_alpha``): identity ``i`` has ``M_i = 1 + min(Poisson(mode_lambda), max_modes - 1)``
  modes; mode 0 is the identity centre, the others are offset by
  ``mu_{i,m} = mode_scale * N(0, I/dim)``, a random direction *of that identity*; mode
  proportions ``pi_i ~ Dirichlet(mode_alpha)``. Pose, age, make-up, glasses, lighting move one
  person's embedding along person-specific directions, so one person's photos form several
  clumps; pooled over identities the mode directions cover the whole space, so the within-class
  scatter has no dominant low-rank part for a learned linear map (whitening, LDA-like
  projection) to remove.
* **Per-identity spread** (``spread``, ``spread_sigma``): ``sigma_i = spread *
  LogNormal(0, spread_sigma)``; some people vary more than others.
* **Per-sample quality** (``quality_a``, ``quality_b``, ``quality_power``, ``noise_lowq``,
  ``degrade``): quality ``q ~ Beta(quality_a, quality_b)`` (1 = perfect), badness
  ``b = (1 - q)^quality_power``. A bad sample (blur, low resolution, occlusion, extreme pose) is
  noisier, isotropic noise of level ``sigma_i (1 + noise_lowq * b)`` (face recognisers are less
  certain about bad faces), and it *loses its individual traits*: only ``1 - degrade * b`` of
  ``g_i`` is kept, so it falls back toward its family centre, where degraded photos of look-alikes
  meet. These samples are the hubs that chain look-alike identities under single linkage; which
  way a sample falls back depends on its family, so no global linear map or per-sample network
  can undo it, while its own identity's samples (its max-Q prefix) still identify it.

Each sample ``x`` of identity ``i`` (family ``F``) draws a mode ``m ~ pi_i``, ``q`` and
``eps ~ N(0, I/dim)``; then

.. math::

    \tilde x = f_F + (1 - \text{degrade}\, b)\, g_i + \mu_{i,m}
               + \sigma_i (1 + \text{noise\_lowq}\, b)\, \epsilon,
    \qquad x = \tilde x / \lVert \tilde x \rVert .

Why the neighbourhood checks come out as they do: a high-quality sample's top-20 kNN list stays
inside one mode of its identity and picks up the degraded samples of its look-alikes (precision@20
about 0.93), so averaging over it denoises but also pulls look-alikes together; the max-Q prefix
(about 50 entries, label-defined) spans the identity's modes and leaves out the look-alikes, so
averaging over it both denoises and joins the modes.

Calibration
-----------
The defaults were tuned with ``benchmarks/calibrate_synthetic.py`` (20,000 samples per split, tau
of every ``knn_cc`` chosen on train; ``knn_cc`` = link i–j when j is among i's K=80 nearest
neighbours and cos >= tau, connected components; test pairwise F; gains are over ``knn_cc``):

=========================================  ========  ========  ========  ========  ===========
figure (test split)                        seed 0    seed 1    seed 2    seed 3    target
=========================================  ========  ========  ========  ========  ===========
identities / singletons (test)             466 / 40  481 / 45  532 / 53  518 / 49
kNN precision@80 (self excluded)           0.678     0.664     0.650     0.658     0.55 - 0.80
kNN precision@20                           0.933     0.933     0.923     0.935
knn_cc pairwise F                          0.686     0.685     0.676     0.694     0.55 - 0.75
within-class whitening, gain               +0.000    -0.042    -0.024    -0.030    <= +0.05
project out top-4 within-class dirs, gain  +0.003    -0.002    -0.013    -0.014    <= +0.05
project out top-16, gain                   +0.003    -0.042    -0.018    -0.016    <= +0.05
project out top-64, gain                   -0.015    -0.024    -0.039    -0.046    <= +0.05
graph-free MLP control, gain               -0.100    -0.078    -0.107    -0.071    <= +0.05
mean k* (max-Q, self counted)              51.7      50.5      49.2      49.9
smooth x2 over k* (clean), gain            +0.233    +0.207    +0.263    +0.225    >= +0.15
smooth x2 over top-20 (noisy), gain        +0.028    +0.019    +0.070    +0.029    <= +0.08
=========================================  ========  ========  ========  ========  ===========

(``OMP_NUM_THREADS=1 python benchmarks/calibrate_synthetic.py --seed S --mlp-control``.) For
reference, on real text embeddings with natural identities (``npmscope``) ``knn_cc`` gets 0.31,
smoothing over the k* clean neighbours +0.30 and learned linear maps +0.07..0.11. The MLP
control (the Ada-NETS GCN trained and applied on identity graphs, with the ``gcn:`` settings of
``config/datasets/synthetic.yaml``: 500 Adam steps, lr 1e-3, weight decay 1e-5) is worse than the
raw features (with the earlier 2,000 steps and weight decay 5e-4: -0.16 / -0.19 / -0.22 on seeds
0-2): with identity-specific nuisance a per-sample map learned on train identities does not
transfer to new identities.

Everything is vectorised numpy and deterministic: the same ``(params, split, seed)`` always
produces bit-identical arrays. Split names are hashed with :func:`zlib.crc32` (never Python's
salted ``hash``). Samples are shuffled; labels are ``0..n_ids-1`` per split.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["SyntheticParams", "ViewParams", "generate_split", "generate_view", "params_from_dict"]


@dataclass(frozen=True)
class SyntheticParams:
    """Parameters of the synthetic generator (defaults are calibrated, see module docstring).

    Attributes:
        n_samples: samples per split (the last identity is truncated so that N == n_samples).
        dim: embedding dimension.
        family_mean: mean number of identities per look-alike family (``1 + Poisson``; 1 = none).
        family_spread: norm of an identity's individual traits ``g_i`` around its family centre
            (relative to a unit centre); small = closer look-alikes.
        mode_scale: typical norm of an appearance-mode offset (identity-specific direction).
        mode_lambda: Poisson mean of extra modes per identity (``M_i = 1 + Poisson``).
        max_modes: upper bound on ``M_i``.
        mode_alpha: Dirichlet concentration of the mode proportions of an identity.
        spread: median per-identity isotropic noise norm ``sigma_i``.
        spread_sigma: log-std of the lognormal factor on ``sigma_i``.
        quality_a: Beta ``a`` parameter of the per-sample quality ``q`` (1 = perfect).
        quality_b: Beta ``b`` parameter of ``q``.
        quality_power: badness ``b = (1 - q) ** quality_power``.
        noise_lowq: extra relative isotropic noise at badness 1.
        degrade: share of the individual traits ``g_i`` lost at badness 1 (the sample falls back
            toward its family centre), in ``[0, 1]``.
        small_frac: probability that an identity is "small" (1 + geometric size).
        small_mean: mean size of a small identity (>= 1; 1 means all small ones are singletons).
        size_median: median size of a regular identity (lognormal).
        size_sigma: log-std of the regular identity size.
        size_max: largest identity size.
    """

    n_samples: int = 20000
    dim: int = 256
    # look-alike families
    family_mean: float = 3.0
    family_spread: float = 0.6
    # identity-specific appearance modes
    mode_scale: float = 1.0
    mode_lambda: float = 2.0
    max_modes: int = 6
    mode_alpha: float = 1.0
    # per-identity spread and per-sample quality
    spread: float = 0.65
    spread_sigma: float = 0.2
    quality_a: float = 3.0
    quality_b: float = 1.5
    quality_power: float = 1.0
    noise_lowq: float = 1.0
    # degraded samples lose their individual traits and fall back to the family centre
    degrade: float = 0.5
    # identity sizes
    small_frac: float = 0.3
    small_mean: float = 3.0
    size_median: float = 50.0
    size_sigma: float = 0.5
    size_max: int = 1000

    def __post_init__(self) -> None:
        if self.n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {self.n_samples}")
        if self.dim < 2:
            raise ValueError(f"dim must be >= 2, got {self.dim}")
        if self.max_modes < 1:
            raise ValueError(f"max_modes must be >= 1, got {self.max_modes}")
        if self.family_mean < 1.0:
            raise ValueError(f"family_mean must be >= 1, got {self.family_mean}")
        for name in ("small_frac", "degrade"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.small_mean < 1.0:
            raise ValueError(f"small_mean must be >= 1, got {self.small_mean}")
        if self.size_max < 2 or self.size_median < 1:
            raise ValueError("size_max must be >= 2 and size_median >= 1")
        for name in ("family_spread", "spread", "spread_sigma", "mode_scale", "mode_lambda", "noise_lowq", "size_sigma"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("mode_alpha", "quality_a", "quality_b", "quality_power"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


def params_from_dict(d: dict | None) -> SyntheticParams:
    """Build :class:`SyntheticParams` from a config mapping; missing keys keep their defaults.

    Raises:
        ValueError: naming the first unknown key, or a non-numeric / non-integer value.
    """
    d = dict(d or {})
    fields = {f.name: f for f in dataclasses.fields(SyntheticParams)}
    for key in d:
        if key not in fields:
            raise ValueError(f"unknown synthetic parameter {key!r}; known: {', '.join(sorted(fields))}")
    kwargs = {}
    for key, value in d.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"synthetic parameter {key!r} must be a number, got {value!r}")
        if isinstance(fields[key].default, int):
            if float(value) != int(value):
                raise ValueError(f"synthetic parameter {key!r} must be an integer, got {value!r}")
            kwargs[key] = int(value)
        else:
            kwargs[key] = float(value)
    return SyntheticParams(**kwargs)


def _split_key(split: str) -> int:
    return zlib.crc32(str(split).encode("utf-8")) & 0xFFFFFFFF


def _identity_sizes(params: SyntheticParams, rng: np.random.Generator) -> np.ndarray:
    n = params.n_samples
    expected = params.small_frac * params.small_mean + (1 - params.small_frac) * params.size_median
    sizes = np.empty(0, dtype=np.int64)
    batch = max(16, int(2 * n / max(expected, 1.0)) + 16)
    while sizes.sum() < n:
        small = rng.random(batch) < params.small_frac
        if params.small_mean > 1.0:
            small_sz = rng.geometric(1.0 / params.small_mean, size=batch)
        else:
            small_sz = np.ones(batch, dtype=np.int64)
        big_sz = np.rint(rng.lognormal(np.log(params.size_median), params.size_sigma, size=batch))
        big_sz = np.clip(big_sz, 2, params.size_max).astype(np.int64)
        sizes = np.concatenate([sizes, np.where(small, small_sz, big_sz).astype(np.int64)])
    csum = np.cumsum(sizes)
    n_ids = int(np.searchsorted(csum, n) + 1)
    sizes = sizes[:n_ids].copy()
    sizes[-1] -= int(csum[n_ids - 1] - n)
    return sizes


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _draw_split(params: SyntheticParams, split: str, seed: int) -> dict:
    """Every draw of one split (module docstring), in the stream ``(seed, crc32(split))``: the
    latent parts of each sample (before the permutation) and the base model's noise."""
    p = params
    d = p.dim
    rng = np.random.default_rng([int(seed), _split_key(split), 0xFACE2])

    sizes = _identity_sizes(p, rng)
    n_ids = sizes.size
    n = int(sizes.sum())
    labels = np.repeat(np.arange(n_ids, dtype=np.int64), sizes)

    # look-alike families: consecutive identities share a family centre
    fam_sizes = 1 + rng.poisson(p.family_mean - 1.0, size=n_ids)
    family = np.repeat(np.arange(n_ids), fam_sizes)[:n_ids]
    n_fam = int(family[-1]) + 1
    fam_centres = _unit_rows(rng.standard_normal((n_fam, d)))
    g = p.family_spread * rng.standard_normal((n_ids, d)) / np.sqrt(d)

    # identity-specific appearance modes (random directions of the full space)
    n_modes = 1 + np.minimum(rng.poisson(p.mode_lambda, size=n_ids), p.max_modes - 1)
    offsets = p.mode_scale * rng.standard_normal((n_ids, p.max_modes, d)) / np.sqrt(d)
    offsets[:, 0] = 0.0
    weights = rng.gamma(p.mode_alpha, size=(n_ids, p.max_modes))
    weights[np.arange(p.max_modes)[None, :] >= n_modes[:, None]] = 0.0
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    mode = (rng.random(n)[:, None] >= cdf[labels]).sum(axis=1)
    mode = np.minimum(mode, n_modes[labels] - 1)

    sigma = p.spread * rng.lognormal(0.0, p.spread_sigma, size=n_ids)
    q = rng.beta(p.quality_a, p.quality_b, size=n)
    eps = rng.standard_normal((n, d)) / np.sqrt(d)
    perm = rng.permutation(n)
    return {"labels": labels, "centre": fam_centres[family[labels]], "traits": g[labels],
            "offset": offsets[labels, mode], "sigma": sigma[labels], "quality": q, "eps": eps, "perm": perm}


def _embed(params: SyntheticParams, draws: dict, quality: np.ndarray, eps: np.ndarray, noise_scale: float = 1.0) -> np.ndarray:
    """Unit-norm embeddings of the latent samples under one model (its sample quality and noise)."""
    p = params
    bad = (1.0 - quality) ** p.quality_power
    noise = noise_scale * draws["sigma"] * (1.0 + p.noise_lowq * bad)
    keep = 1.0 - p.degrade * bad  # share of the individual traits a sample keeps
    x = draws["centre"] + keep[:, None] * draws["traits"] + draws["offset"] + noise[:, None] * eps
    return _unit_rows(x)


def generate_split(params: SyntheticParams, split: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate one split of the synthetic benchmark (see the module docstring).

    Returns:
        ``(features, labels)``: float32 ``(N, dim)`` with L2-normalised rows and int64 ``(N,)``
        identity ids ``0..n_ids-1``. Everything (families, identities, samples) is drawn from the
        stream ``(seed, crc32(split))``, so different splits have disjoint identities.
    """
    draws = _draw_split(params, split, seed)
    x = _embed(params, draws, draws["quality"], draws["eps"])
    perm = draws["perm"]
    return np.ascontiguousarray(x[perm], dtype=np.float32), draws["labels"][perm]


@dataclass(frozen=True)
class ViewParams:
    """One more "recognition model" of the same samples (a committee member, CDP).

    Attributes:
        noise: its isotropic noise relative to the base model's (> 1: a weaker model).
        quality_corr: how far its per-sample quality follows the base model's, in [0, 1]
            (1: it fails on exactly the same photos; 0: on independent ones).
        dim: its embedding width (None: the base's); the latent embedding is mapped by a random
            orthonormal map (cosines kept) when ``dim`` ≥ the base's, projected onto ``dim``
            random orthonormal directions (information lost) when smaller.
    """

    noise: float = 1.0
    quality_corr: float = 0.5
    dim: int | None = None

    def __post_init__(self) -> None:
        if self.noise <= 0:
            raise ValueError(f"noise must be > 0, got {self.noise}")
        if not 0.0 <= self.quality_corr <= 1.0:
            raise ValueError(f"quality_corr must be in [0, 1], got {self.quality_corr}")
        if self.dim is not None and self.dim < 2:
            raise ValueError(f"dim must be >= 2, got {self.dim}")


def generate_view(params: SyntheticParams, split: str, seed: int, member: str, view: ViewParams) -> np.ndarray:
    """Committee member ``member``'s embeddings of the samples of :func:`generate_split` (same rows,
    same order): the same identities, families, modes and traits, its own per-sample quality
    (``quality_corr``), noise (``noise``) and embedding space (``dim``), drawn from the stream
    ``(seed, crc32(split), crc32(member))`` — so its errors are its own. float32 (N, dim), unit rows."""
    draws = _draw_split(params, split, seed)
    rng = np.random.default_rng([int(seed), _split_key(split), 0xFACE2, _split_key(member)])
    n, d = draws["eps"].shape
    own = rng.beta(params.quality_a, params.quality_b, size=n)
    quality = view.quality_corr * draws["quality"] + (1.0 - view.quality_corr) * own
    x = _embed(params, draws, quality, rng.standard_normal((n, d)) / np.sqrt(d), view.noise)
    width = view.dim or d
    basis, _ = np.linalg.qr(rng.standard_normal((max(d, width), min(d, width))))  # orthonormal columns
    x = x @ basis.T if width > d else x @ basis  # (d -> width): isometry when wider, projection when narrower
    return np.ascontiguousarray(_unit_rows(x[draws["perm"]]), dtype=np.float32)
