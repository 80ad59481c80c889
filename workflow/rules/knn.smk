# Exact cosine kNN of every split (faiss on CPU; GPU faiss or torch on CUDA when present), or the
# release's kNN ids with recomputed cosines when the dataset config says knn.source: release.


rule knn:
    input:
        unpack(knn_inputs),
    output:
        "results/{ds}/{split}/knn.npz",
    params:
        k=lookup(dpath="datasets/{ds}/knn/k", within=config),
        backend=lookup(dpath="datasets/{ds}/knn/backend", within=config),
        chunk_size=lookup(dpath="datasets/{ds}/knn/chunk_size", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/knn.log",
    benchmark:
        "benchmarks/{ds}/{split}/knn.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=4.0),
        runtime=120,
    script:
        "../scripts/knn.py"
