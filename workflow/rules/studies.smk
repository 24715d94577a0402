# Studies beyond the paper; target `snakemake studies`.
from snakemake.utils import Paramspace
import json

import meanfield_resnet.studies as package_studies
from meanfield_resnet.sweep_table import load_sweep_table

# validated before any job: a bad row is named here, not inside a job
SWEEP = Paramspace(
    load_sweep_table(SETTINGS.studies["sweep"]["table"], Path.cwd()),
    filename_params="*",
)
# every study with a figure; the solver studies need no input (meanfield_resnet.studies)
STUDIES = list(package_studies.STUDIES)


rule meanfield_study:
    input:
        data=DATA,
        pde="results/pde/{experiment}.nc",
        code=code_inputs("study.py"),
    output:
        "results/studies/meanfield/{experiment}.nc",
    log:
        "results/logs/studies/meanfield_{experiment}.log",
    benchmark:
        "results/benchmarks/studies/meanfield_{experiment}.tsv"
    conda:
        "../../environment.yml"
    threads: SOLVER_THREADS
    resources:
        **MEANFIELD_STUDY_RESOURCES,
    params:
        settings=lambda wildcards: json.dumps(
            SETTINGS.studies["meanfield"], sort_keys=True
        ),
    script:
        "../scripts/study.py"


rule solver_study:
    input:
        code=code_inputs("study.py"),
    output:
        "results/studies/{study}.nc",
    log:
        "results/logs/studies/{study}.log",
    benchmark:
        "results/benchmarks/studies/{study}.tsv"
    wildcard_constraints:
        study="|".join(package_studies.SOLVER_STUDIES),
    conda:
        "../../environment.yml"
    resources:
        **SOLVER_RESOURCES,
    script:
        "../scripts/study.py"


rule sweep_point:
    input:
        vehicles="results/data/vehicles.nc",
        code=code_inputs("sweep_point.py"),
    output:
        f"results/sweep/{SWEEP.wildcard_pattern}.nc",
    log:
        f"results/logs/sweep/{SWEEP.wildcard_pattern}.log",
    conda:
        "../../environment.yml"
    params:
        point=SWEEP.instance,
    script:
        "../scripts/sweep_point.py"


rule sweep_summary:
    input:
        points=expand("results/sweep/{params}.nc", params=SWEEP.instance_patterns),
        code=code_inputs("sweep_summary.py"),
    output:
        "results/studies/sweep.nc",
    log:
        "results/logs/studies/sweep.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/sweep_summary.py"


rule study_figure:
    input:
        studies=get_study_inputs,
        code=code_inputs("study_figure.py"),
    output:
        png=report(
            "results/figures/study_{study}.png",
            caption="../report/caption.rst",
            category="Studies",
        ),
        pdf="results/figures/study_{study}.pdf",
    log:
        "results/logs/figures/study_{study}.log",
    wildcard_constraints:
        study="|".join(STUDIES),
    conda:
        "../../environment.yml"
    params:
        caption=caption("studies"),
    script:
        "../scripts/study_figure.py"


rule convergence_table:
    input:
        "results/studies/convergence.nc",
        code=code_inputs("convergence_table.py"),
    output:
        csv=report(
            "results/tables/convergence.csv",
            caption="../report/convergence_table.rst",
            category="Studies",
        ),
        md="results/tables/convergence.md",
    log:
        "results/logs/tables/convergence.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/convergence_table.py"


rule studies:
    input:
        expand("results/figures/study_{study}.{ext}", study=STUDIES, ext=["png", "pdf"]),
        expand("results/tables/convergence.{ext}", ext=["csv", "md"]),
