# Models from elsewhere: the releases' pretrained weights imported into this project's checkpoint
# convention (methods.<m>.weights), and, for a dataset that takes another's models (models_from),
# how far its embeddings are from those the models were fitted on.


rule import_weights:
    input:
        release_weights,
    output:
        "results/{ds}/models/{method}.imported.pt",
    wildcard_constraints:
        method="|".join(LEARNED),
    params:
        method="{method}",
        settings=method_settings,
        feature_dim=lookup(dpath="datasets/{ds}/feature_dim", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/import_{method}.log",
    benchmark:
        "results/{ds}/benchmarks/import_{method}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../scripts/import_weights.py"


rule models_from_check:
    input:
        unpack(models_from_inputs),
    output:
        "results/{ds}/{split}/models_from.json",
    params:
        source=lambda wildcards: DATASETS[wildcards.ds]["models_from"],
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/models_from_check.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/models_from_check.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=3.0),
        runtime=10,
    script:
        "../scripts/models_from_check.py"
