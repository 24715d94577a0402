# Training the network on the density (config section `training`); target `snakemake training`.
rule training_run:
    input:
        vehicles="results/data/vehicles.nc",
        code=code_inputs("training.py"),
    output:
        "results/training/vehicles.nc",
    log:
        "results/logs/training/vehicles.log",
    benchmark:
        "results/benchmarks/training/vehicles.tsv"
    conda:
        "../../environment.yml"
    threads: SOLVER_THREADS
    resources:
        **SOLVER_RESOURCES,
    params:
        settings=get_training_settings,
    script:
        "../scripts/training.py"


rule training_gradient:
    input:
        trained="results/training/vehicles.nc",
        code=code_inputs("training_gradient.py"),
    output:
        "results/training/gradient_convergence.nc",
    log:
        "results/logs/training/gradient_convergence.log",
    benchmark:
        "results/benchmarks/training/gradient_convergence.tsv"
    conda:
        "../../environment.yml"
    threads: SOLVER_THREADS
    resources:
        **SOLVER_RESOURCES,
    params:
        settings=get_training_settings,
    script:
        "../scripts/training_gradient.py"


rule training_agreement:
    input:
        code=code_inputs("training_agreement.py"),
    output:
        "results/training/agreement.nc",
    log:
        "results/logs/training/agreement.log",
    benchmark:
        "results/benchmarks/training/agreement.tsv"
    conda:
        "../../environment.yml"
    threads: SOLVER_THREADS
    resources:
        **SOLVER_RESOURCES,
    params:
        settings=get_training_settings,
    script:
        "../scripts/training_agreement.py"


rule training_figure:
    input:
        trained="results/training/vehicles.nc",
        gradient="results/training/gradient_convergence.nc",
        agreement="results/training/agreement.nc",
        code=code_inputs("training_figure.py"),
    output:
        png=report(
            "results/figures/training.png",
            caption="../report/caption.rst",
            category="Training",
        ),
        pdf="results/figures/training.pdf",
        data="results/figures/training.nc",
    log:
        "results/logs/figures/training.log",
    conda:
        "../../environment.yml"
    params:
        caption=caption("figures", "training"),
    script:
        "../scripts/training_figure.py"


rule training:
    input:
        expand("results/training/{name}.nc", name=["vehicles", "gradient_convergence", "agreement"]),
        expand("results/figures/training.{ext}", ext=["png", "pdf", "nc"]),
