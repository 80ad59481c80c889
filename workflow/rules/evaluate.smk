# Scores of every method on every labelled split (metrics.json, DESIGN.md schema) and the leaderboard.


rule evaluate_method:
    input:
        clusters="results/{ds}/{split}/methods/{method}/clusters.npy",
        params="results/{ds}/{split}/methods/{method}/params.json",
        labels=split_labels,
        timings=method_benchmarks,
        models_from=lambda wildcards: models_from_check(wildcards.ds, wildcards.split),
    output:
        "results/{ds}/{split}/methods/{method}/metrics.json",
    params:
        dataset="{ds}",
        split="{split}",
        method="{method}",
        stages=method_stages,
        diagnostic_splits=[],
        training=lookup(dpath="datasets/{ds}/training", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/evaluate_{method}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/evaluate_{method}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=6.0),
        runtime=10,
    script:
        "../scripts/evaluate.py"


rule ada_nets_diagnostics:
    input:
        knn="results/{ds}/{split}/knn.npz",
        structure="results/{ds}/{split}/structure.npz",
        labels="results/{ds}/{split}/labels.npy",
        k_pred="results/{ds}/{split}/k_pred.npy",
        max_q="results/{ds}/{split}/max_q.npy",
        train_max_q=train_file("max_q.npy"),
        adjacency="results/{ds}/{split}/adjacency.npz",
    output:
        "results/{ds}/{split}/diagnostics.json",
    params:
        plain_k=lookup(dpath="datasets/{ds}/structure/k", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/ada_nets_diagnostics.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/ada_nets_diagnostics.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=6.0),
        runtime=10,
    script:
        "../scripts/diagnostics.py"


use rule evaluate_method as evaluate_ada_nets with:
    input:
        clusters=rules.ada_nets_cluster.output.clusters,
        params=rules.ada_nets_cluster.output.params,
        labels=split_labels,
        timings=ada_nets_benchmarks,
        diagnostics=diagnostics_files,
        models_from=lambda wildcards: models_from_check(wildcards.ds, wildcards.split),
    output:
        "results/{ds}/{split}/metrics.json",
    params:
        dataset="{ds}",
        split="{split}",
        method="ada_nets",
        stages=list(ADA_NETS_STAGES),
        diagnostic_splits=diagnostic_splits,
        training=lookup(dpath="datasets/{ds}/training", within=config),
    log:
        "logs/{ds}/{split}/evaluate_ada_nets.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/evaluate_ada_nets.tsv"


rule leaderboard:
    input:
        leaderboard_inputs,
    output:
        csv=report(
            "results/{ds}/{split}/leaderboard.csv",
            caption="../report/leaderboard.rst",
            category="{ds}",
            subcategory="{split}",
        ),
        md="results/{ds}/{split}/leaderboard.md",
    params:
        title="{ds} / {split}",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/leaderboard.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/leaderboard.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/leaderboard.py"
