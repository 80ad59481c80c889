# The learned methods Ada-NETS is compared with (GCN-V, GCN-V+E, L-GCN, LCE, CDP mediator, GCN-D, GCN-D+S: facecluster.methods.learned),
# trained on the fitting part of the train split (results/{ds}/models/{method}.pt), their parameter
# chosen on its validation part, and applied to every split under results/{ds}/{split}/methods/{method}/.
# GCN-D / GCN-S read the cluster proposals of each split (rule proposals: results/{ds}/{split}/proposals.npz).


rule proposals:
    input:
        features="results/{ds}/{split}/features.npy",
        knn="results/{ds}/{split}/knn.npz",
    output:
        "results/{ds}/{split}/proposals.npz",
    params:
        settings=proposal_settings,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/proposals.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/proposals.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=4.0, floor=2000),
        runtime=runtime_from_input(minutes=20, per_gb=60),
    script:
        "../scripts/proposals.py"


rule train_learned:
    input:
        unpack(learned_train_inputs),
    output:
        "results/{ds}/models/{method}.pt",
    wildcard_constraints:
        method="|".join(LEARNED),
    params:
        training=lookup(dpath="datasets/{ds}/training", within=config),
        method="{method}",
        settings=method_settings,
        choice=choice_params,
        checkpoints=lookup(dpath="datasets/{ds}/validation/checkpoints", within=config),
        patience=lookup(dpath="datasets/{ds}/validation/patience", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/train_{method}.log",
    benchmark:
        "results/{ds}/benchmarks/train_{method}.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=6.0, floor=4000),
        runtime=720,
        gpu=1,
    script:
        "../scripts/train_learned.py"


rule tune_learned:
    input:
        unpack(learned_tune_inputs),
    output:
        "results/{ds}/models/{method}_tuned.json",
    wildcard_constraints:
        method="|".join(m for m in LEARNED if registry.METHODS[m].param),
    params:
        method="{method}",
        settings=method_settings,
        inference_chunk=lookup(dpath="datasets/{ds}/inference/chunk_size", within=config),
        choice=choice_params,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/tune_{method}.log",
    benchmark:
        "results/{ds}/benchmarks/tune_{method}.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=6.0, floor=4000),
        runtime=runtime_from_input(minutes=30, per_gb=120),
        gpu=1,
    script:
        "../scripts/tune_learned.py"


rule cluster_learned:
    input:
        unpack(learned_cluster_inputs),
    output:
        clusters="results/{ds}/{split}/methods/{method}/clusters.npy",
        params="results/{ds}/{split}/methods/{method}/params.json",
    wildcard_constraints:
        method="|".join(LEARNED),
    params:
        method="{method}",
        settings=method_settings,
        inference_chunk=lookup(dpath="datasets/{ds}/inference/chunk_size", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/{method}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/{method}.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=6.0, floor=4000),
        runtime=runtime_from_input(minutes=30, per_gb=120),
        gpu=1,
    script:
        "../scripts/cluster_learned.py"
