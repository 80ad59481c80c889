"""The method registry: what every clustering method is, without importing how it runs.

Importable with the standard library alone (no numpy, torch, PyG or numba), so the Snakemake DAG,
the config checks (:mod:`facecluster.config`), the SLURM profile test and the docs all read the
same table. The implementations live in :mod:`facecluster.ada_nets` and :mod:`facecluster.methods`
(runners: :mod:`facecluster.methods.graph_methods`, :mod:`facecluster.methods.learned`).

Fields of :class:`Method`:

- ``family``: ``ada_nets`` (the main method, its own stage rules), ``graph`` (a non-learned method
  on the kNN graph: rules ``tune_method`` / ``cluster_method``), ``features`` (a non-learned method on
  the features: ``cluster_method``, and ``tune_method`` when it has a parameter), ``learned`` (rules ``train_learned`` / ``tune_learned`` /
  ``cluster_learned``);
- ``param``: the one parameter chosen on the train split (None: nothing to tune);
- ``input``: ``knn`` (columns of ``knn.npz``), ``features`` or ``features+knn``; ``+committee``:
  also the committee members' kNN (and features) of the split (CDP's other recognition models);
  ``+proposals``: also the split's cluster proposals (``proposals.npz``, GCN-D / GCN-S);
- ``needs``: methods whose trained model this one builds on;
- ``knn_widths``: ``(key, extra)`` pairs: the dataset-config key (a dotted path) whose value plus
  ``extra`` columns of ``knn.npz`` the method reads (``extra`` 1 where the key counts neighbours
  after the node itself); each must be at most ``knn.k`` (checked at DAG time by
  :func:`facecluster.config.check_dataset`);
- ``module``: where the algorithm lives;
- ``candidates``: settings the releases change between datasets, as a few alternatives (dicts of
  keys of the method's settings, :attr:`Method.settings_key`) among which the pipeline chooses on
  the validation part, together with the tuned parameter, for every dataset whose YAML leaves
  those keys unset (:func:`facecluster.config.resolve_candidates`; docs/validation.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Method:
    name: str
    family: str
    param: str | None
    input: str
    description: str
    module: str
    knn_widths: tuple[tuple[str, int], ...] = ()
    needs: tuple[str, ...] = field(default_factory=tuple)
    candidates: tuple[dict, ...] = ()

    @property
    def settings_key(self) -> str:
        """The dataset-config key (dotted) of the settings the tuned parameter and candidates belong to."""
        return "cluster" if self.family == "ada_nets" else f"methods.{self.name}"

    @property
    def committee(self) -> bool:
        """Whether the method reads a committee (other models' embeddings of the same samples, CDP)."""
        return "committee" in self.input

    @property
    def proposals(self) -> bool:
        """Whether the method reads the split's cluster proposals (GCN-D / GCN-S, rule ``proposals``)."""
        return "proposals" in self.input

    @property
    def gpu(self) -> bool:
        """Whether the method has GPU-capable stages (``gpu=1`` rules)."""
        return self.family in ("ada_nets", "learned")

    @property
    def rules(self) -> tuple[str, ...]:
        """The Snakemake rules that compute this method's clusters of a split (and fit it)."""
        rules = FAMILY_RULES[self.family]
        if self.proposals:
            rules = ("proposals", *rules)
        return ("tune_method", *rules) if self.family == "features" and self.param else rules


#: kNN widths the graph methods choose among (learn-to-cluster's baselines use 80 on MS1M and 4-10
#: on DeepFashion; CDP 15); fast_hac reads all features and has none
GRAPH_K = tuple({"k": k} for k in (5, 10, 20, 40, 80))


#: fast_hac's exact single linkage: up to this many samples by Prim's tree on a dense N x N
#: float32 distance matrix (2.3 GB at 24,000; seconds), above it by fastcluster's memory-saving
#: path (minutes; ``max_seconds`` and ``fallback`` apply). Here because the workflow sizes the
#: job's memory with it and must not import numba.
DENSE_LINKAGE_MAX = 24_000


def _graph(name: str, param: str, description: str, module: str = "facecluster.methods.classic",
           input: str = "knn", candidates: tuple[dict, ...] = GRAPH_K) -> Method:
    return Method(name, "graph", param, input, description, module, knn_widths=((f"methods.{name}.k", 0),),
                  candidates=candidates)


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("ada_nets", "ada_nets", "tau", "features+knn",
           "Ada-NETS: structure space, adaptive filter, adaptive adjacency, GCN, threshold linkage",
           "facecluster.ada_nets", knn_widths=(("structure.k", 0), ("gcn.order_k", 0)),
           candidates=tuple({"k": k} for k in (10, 20, 40, 80))),  # cluster.k: the embeddings' kNN
    Method("gcn_v", "learned", "tau", "features+knn",
           "GCN-V: vertex confidence, link to the nearest higher-confidence neighbour",
           "facecluster.methods.gcn_v", knn_widths=(("methods.gcn_v.k", 0),),
           candidates=tuple({"k": k} for k in (5, 10, 20))),  # release: 80 MS1M, 5 DeepFashion
    Method("gcn_ve", "learned", "tau", "features+knn",
           "GCN-V + GCN-E: edge connectivity among higher-confidence candidates",
           "facecluster.methods.gcn_e", needs=("gcn_v",), candidates=({"k": 10}, {"k": 20})),
    Method("lgcn", "learned", "threshold", "features+knn",
           "L-GCN: instance pivot subgraphs, linkage prediction, size-capped propagation",
           "facecluster.methods.lgcn", knn_widths=tuple((f"methods.lgcn.{key}", 1) for key in (
               "k_at_hop_train.0", "k_at_hop_train.1", "k_at_hop_test.0", "k_at_hop_test.1", "active")),
           candidates=tuple({"k_at_hop_train": hop, "k_at_hop_test": hop, "active": hop[1]} for hop in ([5, 3], [10, 5]))),
    Method("lce", "learned", None, "features+knn",
           "LCE-PCENet: LCENet neighbour scores, density-peak edges verified by PCENet",
           "facecluster.methods.lce", knn_widths=(("methods.lce.k", 0),),
           candidates=({"k": 8}, {"k": 16})),  # release: 80 MS1M, 8 DeepFashion, 120 IJB-B
    Method("cdp_mediator", "learned", "threshold", "features+knn+committee",
           "CDP mediator: the committee's relationship, affinity and structure per base-kNN pair, an MLP trained on labelled pairs, size-constrained propagation",
           "facecluster.methods.cdp_mediator", knn_widths=(("methods.cdp_mediator.k", 0),),
           candidates=({"k": 15}, {"k": 30})),  # release: 15
    Method("gcn_d", "learned", None, "features+knn+proposals",
           "GCN-D: super-vertex proposals at two levels, a GCN scoring each proposal's IoU, de-overlap",
           "facecluster.methods.gcn_d"),
    Method("gcn_ds", "learned", None, "features+knn+proposals",
           "GCN-D + GCN-S: GCN-D's de-overlap with GCN-S removing each uncertain proposal's outliers",
           "facecluster.methods.gcn_d", needs=("gcn_d",)),
    _graph("knn_cc", "tau", "kNN graph cut at cosine tau, connected components", "facecluster.graph.ops"),
    _graph("cdp", "threshold", "CDP single-model vote: pairs above threshold, size-constrained propagation",
           "facecluster.methods.cdp"),
    _graph("cdp_vote", "threshold", "CDP vote with a committee: base-kNN pairs above threshold that every member's kNN also holds, size-constrained propagation",
           "facecluster.methods.cdp", input="knn+committee",
           # k: the release's 15 (MS1M) and 30 (OpenImages); accept: every member (its committee row) or any one
           candidates=tuple({"k": k, "accept": a} for k in (15, 30) for a in (None, 1))),
    _graph("knn_dbscan", "eps", "scikit-learn DBSCAN on the one-way kNN distance matrix (1 - cos)"),
    _graph("fast_hac", "distance", "fastcluster single linkage on all features, cut at a Euclidean distance",
           input="features+knn", candidates=()),
    _graph("chinese_whispers", "tau", "label propagation on kNN edges with cosine >= tau"),
    _graph("approx_rank_order", "threshold",
           "approximate rank-order distance between co-neighbours, one-way links at <= threshold, BFS in index order"),
    _graph("leiden", "resolution", "Leiden, constant Potts model on the cosine-weighted kNN graph"),
    Method("minibatch_kmeans", "features", None, "features",
           "MiniBatchKMeans on the features, true number of clusters (upper bound)", "facecluster.methods.classic"),
    Method("kmeans", "features", None, "features", "KMeans on the features, true number of clusters (upper bound)",
           "facecluster.methods.feature_baselines"),
    Method("spectral", "features", None, "features",
           "SpectralClustering (nearest-neighbours affinity, discretize), true number of clusters (upper bound)",
           "facecluster.methods.feature_baselines"),
    Method("hac_ward", "features", None, "features",
           "Ward agglomerative clustering with kNN connectivity, true number of clusters (upper bound)",
           "facecluster.methods.feature_baselines"),
    Method("dbscan", "features", "eps", "features", "DBSCAN on the features (eps chosen on validation; the release's 0.75 with tune: fixed)",
           "facecluster.methods.feature_baselines"),
    Method("hdbscan", "features", "min_cluster_size", "features",
           "HDBSCAN on the features (min_cluster_size chosen on validation; the release's 10 with tune: fixed)",
           "facecluster.methods.feature_baselines"),
    Method("meanshift", "features", "bandwidth", "features",
           "MeanShift on the features (bandwidth chosen on validation; scikit-learn's estimate with tune: fixed)",
           "facecluster.methods.feature_baselines"),
)}

FAMILY_RULES: dict[str, tuple[str, ...]] = {
    "ada_nets": ("structure_space", "max_q", "train_adaptive_filter", "predict_k", "adjacency", "knn_adjacency",
                 "max_q_adjacency", "train_gcn", "embed", "embedding_knn", "tune_ada_nets", "ada_nets_cluster"),
    "graph": ("tune_method", "cluster_method"),
    "features": ("cluster_method",),
    "learned": ("train_learned", "tune_learned", "cluster_learned"),
}

# Rules that declare resources gpu=1 (training and inference of networks): the SLURM profile
# sends each to the GPU partition (tests/test_config.py checks the profile and the rule files).
GPU_RULES: tuple[str, ...] = ("train_adaptive_filter", "predict_k", "train_gcn", "embed",
                              "train_learned", "tune_learned", "cluster_learned")

NAMES: tuple[str, ...] = tuple(METHODS)
GRAPH_METHODS: tuple[str, ...] = tuple(m for m, s in METHODS.items() if s.family == "graph")
#: the non-learned methods whose parameter rule ``tune_method`` chooses (graph methods, density baselines)
TUNED_NON_LEARNED: tuple[str, ...] = tuple(m for m, s in METHODS.items() if "tune_method" in s.rules)
NON_LEARNED: tuple[str, ...] = tuple(m for m, s in METHODS.items() if s.family in ("graph", "features"))
LEARNED: tuple[str, ...] = tuple(m for m, s in METHODS.items() if s.family == "learned")
TUNED: tuple[str, ...] = tuple(m for m, s in METHODS.items() if s.param is not None)
COMMITTEE: tuple[str, ...] = tuple(m for m, s in METHODS.items() if s.committee)
