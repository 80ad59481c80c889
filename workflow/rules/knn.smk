# Exact cosine kNN of every split (faiss on CPU; GPU faiss or torch on CUDA when present), or the
# release's kNN ids with recomputed cosines when the dataset config says knn.source: release.
# With knn.shards: S > 1 the query rows are split into S independent knn_shard jobs (each searches
# all base vectors for its rows) and the knn rule merges them into the same knn.npz; the kNN of
# the GCN embeddings (embedding_knn, Ada-NETS stage 7) is sharded the same way.


rule knn_shard:
    input:
        features=shard_features,
    output:
        temp("results/{ds}/{split}/{graph}_shards/{shard}.npz"),
    wildcard_constraints:
        graph="knn|embedding_knn",
        shard=r"\d+",
    params:
        k=shard_k,
        backend=lookup(dpath="datasets/{ds}/knn/backend", within=config),
        chunk_size=lookup(dpath="datasets/{ds}/knn/chunk_size", within=config),
        shards=lookup(dpath="datasets/{ds}/knn/shards", within=config),
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/{graph}_shard_{shard}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/{graph}_shard_{shard}.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=2.0),
        runtime=runtime_from_input(minutes=30, per_gb=120),
    script:
        "../scripts/knn_shard.py"


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
        "results/{ds}/benchmarks/{split}/knn.tsv"
    threads: workflow.cores
    resources:
        mem_mb=mem_mb_from_input(factor=4.0),
        runtime=runtime_from_input(minutes=30, per_gb=240),
    script:
        "../scripts/knn.py"


# Each committee member's kNN (CDP's cdp_vote and cdp_mediator read it), knn.committee_k wide.
use rule knn_shard as member_knn_shard with:
    input:
        features="results/{ds}/{split}/committee/{member}/features.npy",
    output:
        temp("results/{ds}/{split}/committee/{member}/knn_shards/{shard}.npz"),
    wildcard_constraints:
        shard=r"\d+",
    params:
        k=lookup(dpath="datasets/{ds}/knn/committee_k", within=config),
        backend=lookup(dpath="datasets/{ds}/knn/backend", within=config),
        chunk_size=lookup(dpath="datasets/{ds}/knn/chunk_size", within=config),
        shards=lookup(dpath="datasets/{ds}/knn/shards", within=config),
    log:
        "logs/{ds}/{split}/member_knn_shard_{member}_{shard}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/member_knn_shard_{member}_{shard}.tsv"


use rule knn as member_knn with:
    input:
        unpack(member_knn_inputs),
    output:
        "results/{ds}/{split}/committee/{member}/knn.npz",
    params:
        k=lookup(dpath="datasets/{ds}/knn/committee_k", within=config),
        backend=lookup(dpath="datasets/{ds}/knn/backend", within=config),
        chunk_size=lookup(dpath="datasets/{ds}/knn/chunk_size", within=config),
    log:
        "logs/{ds}/{split}/member_knn_{member}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/member_knn_{member}.tsv"
