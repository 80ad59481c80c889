# Ada-NETS stage 5: the adaptive adjacency of every split (k_hat from the filter), its twin cut at the
# max-Q index k* (a training-graph option), and the plain top-order_k kNN graph the GCN trains on.


rule adjacency:
    input:
        structure="results/{ds}/{split}/structure.npz",
        keep="results/{ds}/{split}/k_pred.npy",
    output:
        "results/{ds}/{split}/adjacency.npz",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/adjacency.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/adjacency.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=6.0),
        runtime=30,
    script:
        "../scripts/adjacency.py"


rule knn_adjacency:
    input:
        knn="results/{ds}/{split}/knn.npz",
    output:
        "results/{ds}/{split}/knn_adjacency.npz",
    params:
        k=lookup(dpath="datasets/{ds}/gcn/order_k", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/knn_adjacency.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/knn_adjacency.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=6.0),
        runtime=30,
    script:
        "../scripts/knn_adjacency.py"


use rule adjacency as max_q_adjacency with:
    input:
        structure="results/{ds}/{split}/structure.npz",
        keep="results/{ds}/{split}/max_q.npy",
    output:
        "results/{ds}/{split}/max_q_adjacency.npz",
    log:
        "logs/{ds}/{split}/max_q_adjacency.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/max_q_adjacency.tsv"
