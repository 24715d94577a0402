rule data:
    input:
        code=code_inputs("data.py"),
    output:
        "results/data/{dataset}.nc",
    log:
        "results/logs/data/{dataset}.log",
    wildcard_constraints:
        dataset="vehicles|regression",
    conda:
        "../../environment.yml"
    params:
        settings=get_data_settings,
    script:
        "../scripts/data.py"
