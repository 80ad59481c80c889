# Scores of every method on every labelled split (metrics.json, DESIGN.md schema).


rule evaluate_method:
    input:
        clusters="results/{ds}/{split}/methods/{method}/clusters.npy",
        params="results/{ds}/{split}/methods/{method}/params.json",
        labels="results/{ds}/{split}/labels.npy",
        timings=method_benchmarks,
    output:
        "results/{ds}/{split}/methods/{method}/metrics.json",
    params:
        dataset="{ds}",
        split="{split}",
        method="{method}",
        stages=method_stages,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/evaluate_{method}.log",
    benchmark:
        "benchmarks/{ds}/{split}/evaluate_{method}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=6.0),
        runtime=10,
    script:
        "../scripts/evaluate.py"
