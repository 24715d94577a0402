rule moments:
    output:
        "results/moments/{experiment}.nc",
    input:
        unpack(get_moment_inputs),
        code=package_sources("pipeline", "moments", "exact"),
    log:
        "results/logs/moments/{experiment}.log",
    script:
        "../scripts/moments.py"
