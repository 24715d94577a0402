rule particles:
    input:
        data=DATA,
        code=code_inputs("particles.py"),
    output:
        "results/particles/{experiment}.nc",
    log:
        "results/logs/particles/{experiment}.log",
    benchmark:
        "results/benchmarks/particles/{experiment}.tsv"
    conda:
        "../../environment.yml"
    threads: solver_threads("particles")
    resources:
        **SOLVER_RESOURCES,
    params:
        settings=get_experiment_settings,
    script:
        "../scripts/particles.py"
