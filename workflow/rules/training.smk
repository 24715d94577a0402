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
        expand(
            "results/training/{name}.nc",
            name=["vehicles", "gradient_convergence", "agreement"],
        ),
        expand("results/figures/training.{ext}", ext=["png", "pdf", "nc"]),
        "results/training/regression.nc",
        expand("results/figures/training_regression.{ext}", ext=["png", "pdf", "nc"]),


# The 2-D regression target (config `training.regression`, docs/model.md §6.6): the law of the
# Fig. 5 (slope, intercept) pairs trained to concentrate at a target point. One thread and
# the default resources: a coarse 2-D grid whose steps are driven from Python. Its settings,
# the regression data's and the seed (sorted JSON) are the training job's parameter, so a
# change reruns these jobs only (not the vehicles' training).
import json

REGRESSION_TRAINING_SETTINGS = json.dumps(
    {
        "seed": SETTINGS.seed,
        "regression": SETTINGS.training["regression"],
        "data": SETTINGS.data["regression"],
    },
    sort_keys=True,
)


rule training_regression:
    input:
        regression="results/data/regression.nc",
        code=code_inputs("training_regression.py"),
    output:
        "results/training/regression.nc",
    log:
        "results/logs/training/regression.log",
    benchmark:
        "results/benchmarks/training/regression.tsv"
    conda:
        "../../environment.yml"
    params:
        settings=REGRESSION_TRAINING_SETTINGS,
    script:
        "../scripts/training_regression.py"


rule training_regression_figure:
    input:
        trained="results/training/regression.nc",
        code=code_inputs("training_regression_figure.py"),
    output:
        png=report(
            "results/figures/training_regression.png",
            caption="../report/caption.rst",
            category="Training",
        ),
        pdf="results/figures/training_regression.pdf",
        data="results/figures/training_regression.nc",
    log:
        "results/logs/figures/training_regression.log",
    conda:
        "../../environment.yml"
    params:
        caption=caption("figures", "training_regression"),
    script:
        "../scripts/training_regression_figure.py"
