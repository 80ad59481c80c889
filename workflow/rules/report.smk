# What users see: clusters.csv/summary.json next to every clusters.npy, and the figures of the
# Snakemake report (`snakemake --report report.html`, `make report`), grouped per dataset/split.


rule ada_nets_cluster_table:
    input:
        unpack(cluster_table_inputs),
    output:
        csv="results/{ds}/{split}/clusters.csv",
        summary="results/{ds}/{split}/summary.json",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/cluster_table_ada_nets.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/cluster_table_ada_nets.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=8.0),
        runtime=10,
    script:
        "../scripts/cluster_table.py"


use rule ada_nets_cluster_table as method_cluster_table with:
    output:
        csv="results/{ds}/{split}/methods/{method}/clusters.csv",
        summary="results/{ds}/{split}/methods/{method}/summary.json",
    log:
        "logs/{ds}/{split}/cluster_table_{method}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/cluster_table_{method}.tsv"


rule plot_thresholds:
    input:
        tuned_files,
    output:
        report(
            "results/{ds}/plots/threshold_curves.png",
            caption="../report/threshold_curves.rst",
            category="{ds}",
            subcategory="parameters chosen on the train split",
        ),
    params:
        names=tuned_names,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/plot_thresholds.log",
    benchmark:
        "results/{ds}/benchmarks/plot_thresholds.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/plot_thresholds.py"


rule plot_cluster_sizes:
    input:
        unpack(cluster_size_inputs),
    output:
        report(
            "results/{ds}/{split}/plots/cluster_sizes.png",
            caption="../report/cluster_sizes.rst",
            category="{ds}",
            subcategory="{split}",
        ),
    params:
        methods=lambda wildcards: methods_of(wildcards.ds),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/plot_cluster_sizes.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/plot_cluster_sizes.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=8.0, floor=2000),
        runtime=10,
    script:
        "../scripts/plot_cluster_sizes.py"


rule plot_ada_nets_neighbours:
    input:
        k_pred="results/{ds}/{split}/k_pred.npy",
        max_q="results/{ds}/{split}/max_q.npy",
        diagnostics="results/{ds}/{split}/diagnostics.json",
    output:
        report(
            "results/{ds}/{split}/plots/ada_nets_neighbours.png",
            caption="../report/ada_nets_neighbours.rst",
            category="{ds}",
            subcategory="{split}",
        ),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/plot_ada_nets_neighbours.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/plot_ada_nets_neighbours.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/plot_ada_nets_neighbours.py"


rule plot_training:
    input:
        adaptive_filter="results/{ds}/models/adaptive_filter.pt",
        gcn="results/{ds}/models/gcn.pt",
    output:
        report(
            "results/{ds}/plots/training_curves.png",
            caption="../report/training_curves.rst",
            category="{ds}",
            subcategory="training",
        ),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/plot_training.log",
    benchmark:
        "results/{ds}/benchmarks/plot_training.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/plot_training.py"


rule plot_timings:
    input:
        timing_files,
    output:
        report(
            "results/{ds}/{split}/plots/timings.png",
            caption="../report/timings.rst",
            category="{ds}",
            subcategory="{split}",
        ),
    params:
        stages=timing_stages,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/plot_timings.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/plot_timings.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/plot_timings.py"


rule plot_proposals:
    input:
        proposals="results/{ds}/{split}/proposals.npz",
        labels="results/{ds}/{split}/labels.npy",
        features="results/{ds}/{split}/features.npy",
        knn="results/{ds}/{split}/knn.npz",
        model=lambda wildcards: model_file(wildcards.ds, "gcn_d"),
    output:
        report(
            "results/{ds}/{split}/plots/gcn_d_proposals.png",
            caption="../report/gcn_d_proposals.rst",
            category="{ds}",
            subcategory="{split}",
        ),
    params:
        settings=lookup(dpath="datasets/{ds}/methods/gcn_d", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/plot_proposals.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/plot_proposals.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=4.0, floor=2000),
        runtime=10,
    script:
        "../scripts/plot_proposals.py"
