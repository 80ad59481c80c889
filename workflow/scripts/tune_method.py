import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.threads import limit_threads

limit_threads(snakemake.threads)

import numpy as np

from facecluster.data.io import load_knn, named_paths, save_json
from facecluster.evaluation.search import grid_from_config
from facecluster.methods.feature_baselines import choose_feature_baseline, feature_baseline
from facecluster.methods.graph_methods import choose_graph_method, label_free_graph_method
from facecluster.progress import logger, setup_logging
from facecluster.registry import METHODS

setup_logging()
method, settings, choice = snakemake.params.method, snakemake.params.settings, snakemake.params.choice
param = METHODS[method].param
result = {"method": method, "param": param}
if settings["tune"] == "fixed":
    result.update(value=settings[param], settings={}, source=choice["source"])
elif settings["tune"] == "label_free":  # no labels: a criterion on the partitions (or similarities) alone
    from facecluster.evaluation.label_free import choose_label_free

    nbrs, sims = load_knn(snakemake.input.knn)
    features = np.load(snakemake.input.features) if "features" in snakemake.input.keys() else None
    committee = [load_knn(path)[0] for path in named_paths(snakemake.input, "committee_knn") or []] or None
    grid = grid_from_config(settings["grid"])
    logger.info("%s: choosing %s without labels (criterion %s) on '%s' (%d samples, %d values)", method, param,
                choice["criterion"], choice["split"], nbrs.shape[0], grid.size)
    if METHODS[method].family == "features":
        chosen = choose_label_free(lambda v: feature_baseline(method, features, {**settings, param: v}),
                                   grid, nbrs, sims, choice["criterion"], param="other", name=method)
    else:
        chosen = label_free_graph_method(method, nbrs, sims, settings, grid, choice["criterion"], features, committee)
    result.update(settings={}, source=choice["source"], split=choice["split"], **chosen)
elif METHODS[method].family == "features":  # a density baseline: its parameter on the features
    features, labels = np.load(snakemake.input.features), np.load(snakemake.input.labels)
    rows = np.load(snakemake.input.rows) if "rows" in snakemake.input.keys() else None
    logger.info("%s: choosing %s on '%s' (%d samples%s)", method, param, choice["split"], features.shape[0],
                f", scored on the {rows.size} held-out ones" if rows is not None else "")
    chosen = choose_feature_baseline(method, features, labels, settings, grid_from_config(settings["grid"]),
                                     choice["candidates"], rows)
    result.update(source=choice["source"], split=choice["split"], **chosen)
else:
    nbrs, sims = load_knn(snakemake.input.knn)
    features = np.load(snakemake.input.features) if "features" in snakemake.input.keys() else None
    rows = np.load(snakemake.input.rows) if "rows" in snakemake.input.keys() else None
    committee = [load_knn(path)[0] for path in named_paths(snakemake.input, "committee_knn") or []] or None
    logger.info("%s: choosing %s%s on '%s' (%d samples%s)", method, param,
                f" and among {choice['candidates']}" if choice["candidates"] else "", choice["split"], nbrs.shape[0],
                f", scored on the {rows.size} held-out ones" if rows is not None else "")
    chosen = choose_graph_method(method, nbrs, sims, np.load(snakemake.input.labels), settings,
                                 grid_from_config(settings["grid"]), choice["candidates"], features, rows, committee)
    result.update(source=choice["source"], split=choice["split"], **chosen)
logger.info("%s: %s = %s, settings %s (%s)", method, param, result["value"], result["settings"], result["source"])
save_json(snakemake.output[0], result)
