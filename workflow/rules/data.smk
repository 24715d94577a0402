rule data:
    output:
        "results/data/{dataset}.nc",
    input:
        package_sources("pipeline", "datasets", "io"),
    log:
        "results/logs/data/{dataset}.log",
    wildcard_constraints:
        dataset="vehicles|regression",
    script:
        "../scripts/data.py"
