rule moments:
    input:
        unpack(get_moment_inputs),
        code=package_sources("pipeline", "moments", "exact"),
    output:
        "results/moments/{experiment}.nc",
    log:
        "results/logs/moments/{experiment}.log",
    conda:
        "../../environment.yml"
    params:
        settings=get_experiment_settings,
    script:
        "../scripts/moments.py"
