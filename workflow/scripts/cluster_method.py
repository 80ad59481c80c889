import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.threads import limit_threads

limit_threads(snakemake.threads)

import numpy as np

from facecluster.methods.classic import minibatch_kmeans
from facecluster.methods.feature_baselines import feature_baseline
from facecluster.collapse import check_not_single_cluster
from facecluster.data.io import load_json, load_knn, named_paths, save_json, save_npy
from facecluster.methods.graph_methods import run_graph_method
from facecluster.registry import METHODS
from facecluster.progress import logger, setup_logging

setup_logging()
method, settings = snakemake.params.method, snakemake.params.settings
if METHODS[method].family == "features":
    params = {key: value for key, value in settings.items() if key != "max_seconds"}
    if "n_clusters" in settings:
        n_clusters, source = settings["n_clusters"], "config"
        if n_clusters is None:
            n_clusters, source = len(np.unique(np.load(snakemake.input.labels))), "true number of identities (upper-bound variant)"
        params.update(n_clusters=n_clusters, n_clusters_source=source)
    param = METHODS[method].param
    if param:  # a density baseline: its parameter as chosen on validation (or fixed)
        tuned = load_json(snakemake.input.tuned)
        params = {key: value for key, value in params.items() if key not in ("tune", "grid")}
        params.update({param: tuned["value"], f"{param}_source": tuned["source"]})
        if tuned.get("candidates"):
            params["chosen_on_validation"] = {"fscore": tuned["fscore"], "curve": tuned["curve"]}
    features = np.load(snakemake.input.features)
    if method == "minibatch_kmeans":
        clusters = minibatch_kmeans(features, n_clusters, settings["batch_size"], settings["seed"],
                                    settings["n_init"], settings["max_seconds"])
    else:
        clusters = feature_baseline(method, features, {**settings, **params})
else:
    tuned = load_json(snakemake.input.tuned)
    settings = {**settings, **tuned.get("settings", {})}  # the candidate chosen on validation (e.g. k)
    param = METHODS[method].param
    nbrs, sims = load_knn(snakemake.input.knn)
    logger.info("%s: clustering %d nodes, k = %d, %s = %g", method, nbrs.shape[0], settings["k"], param, tuned["value"])
    features = np.load(snakemake.input.features) if "features" in snakemake.input.keys() else None
    committee = [load_knn(path)[0] for path in named_paths(snakemake.input, "committee_knn") or []] or None
    clusters = run_graph_method(method, nbrs, sims, tuned["value"], settings, features, committee)
    fixed = {key: value for key, value in settings.items() if key not in ("k", "tune", "grid", param)}
    params = {"k": settings["k"], param: tuned["value"], f"{param}_source": tuned["source"], **fixed}
    if tuned.get("candidates"):
        params["chosen_on_validation"] = {"settings": tuned["settings"], "fscore": tuned["fscore"],
                                          "candidates": tuned["candidates"]}
logger.info("%s %s -> %d clusters", method, params, clusters.max() + 1)
check_not_single_cluster(clusters, f"{method} on {snakemake.input[0]}")
save_npy(snakemake.output.clusters, clusters)
save_json(snakemake.output.params, params)
