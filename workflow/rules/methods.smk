# Non-learned clustering methods on the shared kNN artifact (facecluster.methods); each writes
# results/{ds}/{split}/methods/{method}/. Their tuned parameter and candidate settings (k) are
# chosen on the validation part of the train split (the method's `tune`).


rule tune_method:
    input:
        unpack(method_tune_inputs),
    output:
        "results/{ds}/models/{method}_tuned.json",
    wildcard_constraints:
        method="|".join(registry.TUNED_NON_LEARNED),
    params:
        method="{method}",
        settings=method_settings,
        choice=choice_params,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/tune_{method}.log",
    benchmark:
        "results/{ds}/benchmarks/tune_{method}.tsv"
    threads: method_threads
    resources:
        mem_mb=method_mem_mb(factor=6.0),
        runtime=runtime_from_input(minutes=30, per_gb=120),
    script:
        "../scripts/tune_method.py"


rule cluster_method:
    input:
        unpack(method_cluster_inputs),
    output:
        clusters="results/{ds}/{split}/methods/{method}/clusters.npy",
        params="results/{ds}/{split}/methods/{method}/params.json",
    wildcard_constraints:
        method="|".join(NON_LEARNED),
    params:
        method="{method}",
        settings=method_settings,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/{method}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/{method}.tsv"
    threads: method_threads
    resources:
        mem_mb=method_mem_mb(factor=6.0),
        runtime=runtime_from_input(minutes=10, per_gb=30),
    script:
        "../scripts/cluster_method.py"
