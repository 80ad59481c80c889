# Ada-NETS stage 7: threshold linkage on the kNN of the GCN embeddings, tau chosen on the train split.


rule embedding_knn:
    input:
        unpack(embedding_knn_inputs),
    output:
        "results/{ds}/{split}/embedding_knn.npz",
    params:
        k=lookup(dpath="datasets/{ds}/cluster/k", within=config),
        backend=lookup(dpath="datasets/{ds}/knn/backend", within=config),
        chunk_size=lookup(dpath="datasets/{ds}/knn/chunk_size", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/embedding_knn.log",
    benchmark:
        "benchmarks/{ds}/{split}/embedding_knn.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=4.0),
        runtime=runtime_from_input(minutes=30, per_gb=240),
    script:
        "../scripts/knn.py"


rule tune_ada_nets:
    input:
        knn=train_file("embedding_knn.npz"),
        labels=train_file("labels.npy"),
    output:
        "results/{ds}/models/ada_nets_tuned.json",
    params:
        method="knn_cc",
        settings=lookup(dpath="datasets/{ds}/cluster", within=config),
        train_split=train_split,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/tune_ada_nets.log",
    benchmark:
        "benchmarks/{ds}/tune_ada_nets.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=4.0),
        runtime=60,
    script:
        "../scripts/tune_method.py"


rule ada_nets_cluster:
    input:
        knn="results/{ds}/{split}/embedding_knn.npz",
        tuned="results/{ds}/models/ada_nets_tuned.json",
    output:
        clusters="results/{ds}/{split}/clusters.npy",
        params="results/{ds}/{split}/cluster_params.json",
    params:
        method="knn_cc",
        settings=lookup(dpath="datasets/{ds}/cluster", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/ada_nets_cluster.log",
    benchmark:
        "benchmarks/{ds}/{split}/ada_nets_cluster.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=4.0),
        runtime=30,
    script:
        "../scripts/cluster_method.py"
