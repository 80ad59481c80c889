# Raw inputs: the generated synthetic benchmark, the canonical per-split features/labels read from
# each release's files (checked: md5, size, dimension, counts, NaN/Inf), and the kNN export to the
# learn-to-cluster layout (asked for by path, e.g. results/ms1m/part1_test/knns/faiss_k_80.npz).


rule synthetic_data:
    output:
        features="resources/{ds}/{split}/features.npy",
        labels="resources/{ds}/{split}/labels.npy",
    wildcard_constraints:
        ds="|".join(GENERATED) or "NO_GENERATED_DATASET",  # never a user's raw file
    params:
        settings=synthetic_base_settings,
        split="{split}",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/synthetic_data.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/synthetic_data.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/synthetic_data.py"


rule prepare_features:
    input:
        raw_features,
    output:
        "results/{ds}/{split}/features.npy",
    params:
        dim=lookup(dpath="datasets/{ds}/feature_dim", within=config),
        split=split_settings,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/prepare_features.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/prepare_features.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=2.0),
        runtime=30,
    script:
        "../scripts/prepare_features.py"


rule prepare_labels:
    input:
        unpack(raw_labels),
    output:
        "results/{ds}/{split}/labels.npy",
    params:
        dim=lookup(dpath="datasets/{ds}/feature_dim", within=config),
        split=split_settings,
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/prepare_labels.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/prepare_labels.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/prepare_labels.py"


rule export_knn:
    input:
        "results/{ds}/{split}/knn.npz",
    output:
        "results/{ds}/{split}/knns/faiss_k_{k}.npz",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/export_knn_{k}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/export_knn_{k}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=4.0),
        runtime=30,
    script:
        "../scripts/export_knn.py"


# The validation part of the train split (validation.fraction > 0): a seeded draw of its identities
# held out from every fitted stage; every choice is made on it. Both parts are splits like any other
# (results/{ds}/<train>_fit/, <train>_val/), with the train split's rows they hold (rows.npy).
rule carve_validation:
    input:
        features="results/{ds}/{split}/features.npy",
        labels="results/{ds}/{split}/labels.npy",
    output:
        fit_features="results/{ds}/{split}_fit/features.npy",
        fit_labels="results/{ds}/{split}_fit/labels.npy",
        fit_rows="results/{ds}/{split}_fit/rows.npy",
        val_features="results/{ds}/{split}_val/features.npy",
        val_labels="results/{ds}/{split}_val/labels.npy",
        val_rows="results/{ds}/{split}_val/rows.npy",
        summary="results/{ds}/{split}_val/validation.json",
    wildcard_constraints:
        split="|".join(sorted(VALIDATED_SPLITS)) or "NO_VALIDATED_SPLIT",
    params:
        settings=lookup(dpath="datasets/{ds}/validation", within=config),
        train_split="{split}",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/carve_validation.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/carve_validation.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=2.0),
        runtime=10,
    script:
        "../scripts/carve_validation.py"


ruleorder: carve_validation > prepare_features
ruleorder: carve_validation > prepare_labels


# Committee members (CDP): other recognition models' embeddings of the same samples, one feature
# file per member and split (splits.<split>.committee in the dataset config; generated for the
# synthetic benchmark by synthetic_member). Each is checked against the split's base features
# (same rows), L2-normalised, carved for the validation parts by the same rows, and gets its own
# kNN (rule member_knn).
rule synthetic_member:
    output:
        "resources/{ds}/{split}/committee/{member}.npy",
    wildcard_constraints:
        ds="|".join(GENERATED) or "NO_GENERATED_DATASET",
    params:
        settings=synthetic_base_settings,
        view=synthetic_view,
        split="{split}",
        member="{member}",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/synthetic_member_{member}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/synthetic_member_{member}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/synthetic_member.py"


rule prepare_member_features:
    input:
        raw=raw_member_features,
        base="results/{ds}/{split}/features.npy",
    output:
        "results/{ds}/{split}/committee/{member}/features.npy",
    params:
        member="{member}",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}/prepare_member_features_{member}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}/prepare_member_features_{member}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=2.0),
        runtime=30,
    script:
        "../scripts/prepare_member_features.py"


rule carve_member:
    input:
        features="results/{ds}/{split}/committee/{member}/features.npy",
        rows="results/{ds}/{split}_{part}/rows.npy",
    output:
        "results/{ds}/{split}_{part}/committee/{member}/features.npy",
    wildcard_constraints:
        split="|".join(sorted(VALIDATED_SPLITS)) or "NO_VALIDATED_SPLIT",
        part="fit|val",
    params:
        member="{member}",
    conda:
        "../../envs/cpu.yaml"
    log:
        "logs/{ds}/{split}_{part}/carve_member_{member}.log",
    benchmark:
        "results/{ds}/benchmarks/{split}_{part}/carve_member_{member}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_input(factor=2.0),
        runtime=10,
    script:
        "../scripts/carve_member.py"


ruleorder: carve_member > prepare_member_features
