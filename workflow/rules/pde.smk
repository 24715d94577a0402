rule pde:
    input:
        data=DATA,
        code=code_inputs("pde.py"),
    output:
        "results/pde/{experiment}.nc",
    log:
        "results/logs/pde/{experiment}.log",
    benchmark:
        "results/benchmarks/pde/{experiment}.tsv"
    conda:
        "../../environment.yml"
    threads: solver_threads("pde")
    resources:
        **SOLVER_RESOURCES,
    params:
        settings=get_experiment_settings,
    script:
        "../scripts/pde.py"
