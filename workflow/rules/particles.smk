rule particles:
    output:
        "results/particles/{experiment}.nc",
    input:
        data=DATA,
        code=package_sources("pipeline", "network", "activations", "distributions", "diffusion"),
    log:
        "results/logs/particles/{experiment}.log",
    benchmark:
        "results/benchmarks/particles/{experiment}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
    script:
        "../scripts/particles.py"
