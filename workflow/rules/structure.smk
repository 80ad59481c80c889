# Ada-NETS stages 2-3: structure-space neighbours and max-Q indices.


rule structure_space:
    input:
        knn="results/{ds}/{split}/knn.npz",
    output:
        "results/{ds}/{split}/structure.npz",
    params:
        k=lookup(dpath="datasets/{ds}/structure/k", within=config),
        lam=lookup(dpath="datasets/{ds}/structure/lambda", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/structure_space.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/structure_space.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=4.0),
        runtime=runtime_from_input(minutes=10, per_gb=30),
    script:
        "../scripts/structure_space.py"


rule max_q:
    input:
        structure="results/{ds}/{split}/structure.npz",
        labels="results/{ds}/{split}/labels.npy",
    output:
        "results/{ds}/{split}/max_q.npy",
    params:
        beta=lookup(dpath="datasets/{ds}/max_q/beta", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/max_q.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/max_q.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=3.0),
        runtime=30,
    script:
        "../scripts/max_q.py"
