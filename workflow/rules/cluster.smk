# Ada-NETS stage 7: threshold linkage (knn_cc) on the kNN of the GCN embeddings, tau and the kNN
# width (cluster.k among its candidates) chosen on the validation part of the train split. Twins of the kNN rule (knn.smk) and of the graph-method rules (methods.smk).


use rule knn as embedding_knn with:
    input:
        unpack(embedding_knn_inputs),
    output:
        "results/{ds}/{split}/embedding_knn.npz",
    params:
        k=cluster_knn_width,
        backend=lookup(dpath="datasets/{ds}/knn/backend", within=config),
        chunk_size=lookup(dpath="datasets/{ds}/knn/chunk_size", within=config),
    log:
        "logs/{ds}/{split}/embedding_knn.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/embedding_knn.tsv"


use rule tune_method as tune_ada_nets with:
    input:
        unpack(ada_nets_tune_inputs),
    output:
        "results/{ds}/models/ada_nets_tuned.json",
    params:
        method="knn_cc",
        settings=lookup(dpath="datasets/{ds}/cluster", within=config),
        choice=choice_params,
    log:
        "logs/{ds}/tune_ada_nets.log",
    benchmark:
        "results/{ds}/benchmarks/tune_ada_nets.tsv"
    threads: 1


use rule cluster_method as ada_nets_cluster with:
    input:
        knn="results/{ds}/{split}/embedding_knn.npz",
        tuned=lambda wildcards: tuned_file(wildcards.ds, "ada_nets"),
    output:
        clusters="results/{ds}/{split}/clusters.npy",
        params="results/{ds}/{split}/cluster_params.json",
    params:
        method="knn_cc",
        settings=lookup(dpath="datasets/{ds}/cluster", within=config),
    log:
        "logs/{ds}/{split}/ada_nets_cluster.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/ada_nets_cluster.tsv"
    threads: 1
