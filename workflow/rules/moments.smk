rule moments:
    input:
        unpack(get_moment_inputs),
        code=code_inputs("moments.py"),
    output:
        moments="results/moments/{experiment}.nc",
        verification="results/verification/{experiment}.nc",
    log:
        "results/logs/moments/{experiment}.log",
    conda:
        "../../environment.yml"
    params:
        settings=get_experiment_settings,
    script:
        "../scripts/moments.py"


rule verification_table:
    input:
        verification=expand(
            "results/verification/{experiment}.nc", experiment=MOMENT_EXPERIMENTS
        ),
        code=code_inputs("verification_table.py"),
    output:
        csv=report(
            "results/tables/verification.csv",
            caption="../report/verification.rst",
            category="Verification",
        ),
        md="results/tables/verification.md",
    log:
        "results/logs/tables/verification.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/verification_table.py"
