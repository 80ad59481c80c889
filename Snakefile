# facecluster: embeddings in, cached clustering artifacts out (see README.md and DESIGN.md).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


# the report opens on the results (each split's headline and leaderboard), not on the graph
report: REPORT_FRONT_PAGE


wildcard_constraints:
    ds="|".join(DATASETS) or "NO_DATASET",
    split="[A-Za-z0-9_]+",
    method="|".join([*NON_LEARNED, *LEARNED]),


include: "workflow/rules/data.smk"
include: "workflow/rules/knn.smk"
include: "workflow/rules/structure.smk"
include: "workflow/rules/filter.smk"
include: "workflow/rules/graph.smk"
include: "workflow/rules/gcn.smk"
include: "workflow/rules/methods.smk"
include: "workflow/rules/cluster.smk"
include: "workflow/rules/learned.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True
