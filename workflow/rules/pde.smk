rule pde:
    output:
        "results/pde/{experiment}.nc",
    input:
        data=DATA,
        code=package_sources("pipeline", "vlasov", "fokker_planck", "distributions", "diffusion"),
    log:
        "results/logs/pde/{experiment}.log",
    benchmark:
        "results/benchmarks/pde/{experiment}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
    script:
        "../scripts/pde.py"
