# Clustering methods other than Ada-NETS; each writes results/{ds}/{split}/methods/{method}/.


rule tune_knn_cc:
    input:
        knn=train_file("knn.npz"),
        labels=train_file("labels.npy"),
    output:
        "results/{ds}/models/knn_cc_threshold.json",
    params:
        settings=lookup(dpath="datasets/{ds}/methods/knn_cc", within=config),
        train_split=train_split,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/tune_knn_cc.log",
    benchmark:
        "benchmarks/{ds}/tune_knn_cc.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=4.0),
        runtime=60,
    script:
        "../scripts/tune_threshold.py"


rule knn_cc:
    input:
        knn="results/{ds}/{split}/knn.npz",
        threshold="results/{ds}/models/knn_cc_threshold.json",
    output:
        clusters="results/{ds}/{split}/methods/knn_cc/clusters.npy",
        params="results/{ds}/{split}/methods/knn_cc/params.json",
    params:
        k=lookup(dpath="datasets/{ds}/methods/knn_cc/k", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/knn_cc.log",
    benchmark:
        "benchmarks/{ds}/{split}/knn_cc.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=4.0),
        runtime=30,
    script:
        "../scripts/threshold_cluster.py"
