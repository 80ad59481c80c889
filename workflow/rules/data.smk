# Raw inputs: the generated synthetic benchmark, and the canonical per-split features/labels.


rule synthetic_data:
    output:
        features="resources/{ds}/{split}/features.npy",
        labels="resources/{ds}/{split}/labels.npy",
    params:
        settings=synthetic_settings,
        split="{split}",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/synthetic_data.log",
    benchmark:
        "benchmarks/{ds}/{split}/synthetic_data.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/synthetic_data.py"


rule prepare_split:
    input:
        unpack(raw_inputs),
    output:
        features="results/{ds}/{split}/features.npy",
        labels="results/{ds}/{split}/labels.npy",
    params:
        dim=lookup(dpath="datasets/{ds}/feature_dim", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/prepare_split.log",
    benchmark:
        "benchmarks/{ds}/{split}/prepare_split.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=3.0),
        runtime=30,
    script:
        "../scripts/prepare_split.py"
