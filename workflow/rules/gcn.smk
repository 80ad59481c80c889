# Ada-NETS stage 6: the GCN, trained on the train split's kNN graph, embedding every split on its adaptive adjacency.


rule train_gcn:
    input:
        unpack(gcn_train_inputs),
    output:
        "results/{ds}/models/gcn.pt",
    params:
        training=lookup(dpath="datasets/{ds}/training", within=config),
        settings=lookup(dpath="datasets/{ds}/gcn", within=config),
        cluster=lookup(dpath="datasets/{ds}/cluster", within=config),
        choice=choice_params,
        checkpoints=lookup(dpath="datasets/{ds}/validation/checkpoints", within=config),
        patience=lookup(dpath="datasets/{ds}/validation/patience", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/train_gcn.log",
    benchmark:
        "results/{ds}/benchmarks/train_gcn.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=4.0, floor=4000),
        runtime=720,
        gpu=1,
    script:
        "../scripts/train_gcn.py"


rule embed:
    input:
        features="results/{ds}/{split}/features.npy",
        adjacency=rules.adjacency.output[0],
        model=lambda wildcards: model_file(wildcards.ds, "gcn"),
    output:
        "results/{ds}/{split}/embeddings.npy",
    params:
        device=lookup(dpath="datasets/{ds}/gcn/device", within=config),
        chunk_size=lookup(dpath="datasets/{ds}/inference/chunk_size", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/embed.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/embed.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=6.0, floor=4000),
        runtime=60,
        gpu=1,
    script:
        "../scripts/embed.py"
