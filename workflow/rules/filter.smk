# Ada-NETS stage 4: the adaptive filter, trained on the train split, applied to every split.


rule train_adaptive_filter:
    input:
        features=train_file("features.npy"),
        structure=train_file("structure.npz"),
        max_q=train_file("max_q.npy"),
    output:
        "results/{ds}/models/adaptive_filter.pt",
    params:
        training=lookup(dpath="datasets/{ds}/training", within=config),
        settings=lookup(dpath="datasets/{ds}/adaptive_filter", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/train_adaptive_filter.log",
    benchmark:
        "results/{ds}/benchmarks/train_adaptive_filter.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=4.0, floor=4000),
        runtime=720,
        gpu=1,
    script:
        "../scripts/train_adaptive_filter.py"


rule predict_k:
    input:
        features="results/{ds}/{split}/features.npy",
        structure="results/{ds}/{split}/structure.npz",
        model=lambda wildcards: model_file(wildcards.ds, "adaptive_filter"),
    output:
        "results/{ds}/{split}/k_pred.npy",
    params:
        device=lookup(dpath="datasets/{ds}/adaptive_filter/device", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/predict_k.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/predict_k.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=4.0, floor=4000),
        runtime=120,
        gpu=1,
    script:
        "../scripts/predict_k.py"
