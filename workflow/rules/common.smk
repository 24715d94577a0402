# Validation, wildcard constraints and input functions. No rules here.
from pathlib import Path

from meanfield_resnet.code_inputs import package_files
from meanfield_resnet.figures import FIGURES
from meanfield_resnet.figures import experiments as figure_experiments
from meanfield_resnet.parallel import job_threads
from meanfield_resnet.settings import (
    check_config_files,
    load_yaml,
    overlay_config,
    validate_config,
)

# Stops the run before any job with a message naming the offending key.
check_config_files(
    workflow.configfiles
)  # duplicate keys, which Snakemake's loader hides
# A law (or diffusion) of another kind given with --configfile replaces the default's whole:
# Snakemake's merge would keep the default's keys (a uniform law's low and high under a
# Gaussian). The jobs read this config.
_DEFAULT_CONFIG = Path("config/config.yaml")  # the Snakefile's configfile
if (
    workflow.config_settings.overwrite_config
    and not workflow.config_settings.replace_workflow_config
    and _DEFAULT_CONFIG.exists()
):
    _merged = overlay_config(
        load_yaml(_DEFAULT_CONFIG.read_text(encoding="utf-8"), str(_DEFAULT_CONFIG)),
        workflow.config_settings.overwrite_config,
    )
    config.clear()
    config.update(_merged)
SETTINGS = validate_config(config)

PARTICLE_EXPERIMENTS = SETTINGS.experiments_with("particles")
PDE_EXPERIMENTS = SETTINGS.experiments_with("pde")
MOMENT_EXPERIMENTS = sorted(set(PARTICLE_EXPERIMENTS) | set(PDE_EXPERIMENTS))
FIGURE_NAMES = list(FIGURES)
SCRIPTS = Path(workflow.basedir) / "scripts"

# What a solver job asks for, declared here once for every executor (the particles, pde,
# meanfield_study, solver_study and training rules). Threads: a job runs its numba kernels
# on that many threads (jobs.start calls numba.set_num_threads), and on SLURM they are the
# job's --cpus-per-task (the executor's default when a job sets no cpus_per_task). A pde or
# particles job asks for SOLVER_THREADS only where its kernels can use them (job_threads:
# a Vlasov grid of 2048 cells or more, about a second of particle kernel or more), else 1,
# so that a serial job does not keep a second core idle; the solver studies (under a
# second of small grids) ask for 1, the mean-field study and the training jobs (10^5-10^6
# particles: 1.4x faster on 2 threads, measured) for SOLVER_THREADS. Memory in MB: a local
# run limits it only under `--resources mem_mb=...`; on SLURM it is the job's --mem. A site
# that needs more overrides it in its profile (set-resources).
SOLVER_THREADS = 2
SOLVER_RESOURCES = {"mem_mb": 4000}
# the mean-field study holds M = 10^6 particles of several seeds and runs longest (minutes)
MEANFIELD_STUDY_RESOURCES = {"mem_mb": 8000, "runtime": 60}


wildcard_constraints:
    experiment="|".join(sorted(SETTINGS.experiments)),
    figure="|".join(FIGURE_NAMES),


def code_inputs(script):
    """The code that a workflow script runs, as inputs of its jobs: the script itself and
    every package file it imports, directly or through other modules, or that those modules
    read (derived from the import statements by meanfield_resnet.code_inputs). An edited
    script or module reruns exactly the jobs that run it."""
    path = SCRIPTS / script
    return [str(path), *(str(f) for f in package_files(path))]


DATA = ["results/data/vehicles.nc", "results/data/regression.nc"]

# One report caption per figure and per study: workflow/report/figures/<figure>.rst and
# workflow/report/studies/<study>.rst (tests/test_workflow.py checks that each exists).
REPORT = Path(workflow.basedir) / "report"


def caption(kind, name=None):
    """A params function: the report caption of the job's figure (kind "figures") or study
    ("studies"), the text of report/<kind>/<name>.rst (``name``: a rule's fixed figure,
    otherwise the job's wildcard). A report() caption is one file per rule whose path cannot
    hold wildcards (Snakemake reads it as given), so the rules point to the template
    report/caption.rst, which shows this parameter; the figure scripts also write it into
    the figure's files, so an edited caption redoes its figure."""
    wildcard = {"figures": "figure", "studies": "study"}[kind]

    def text(wildcards):
        stem = name if name is not None else getattr(wildcards, wildcard)
        path = REPORT / kind / f"{stem}.rst"
        return path.read_text(encoding="utf-8")

    return text


def get_moment_inputs(wildcards):
    inputs = {"data": DATA}
    if wildcards.experiment in PARTICLE_EXPERIMENTS:
        inputs["particles"] = f"results/particles/{wildcards.experiment}.nc"
    if wildcards.experiment in PDE_EXPERIMENTS:
        inputs["pde"] = f"results/pde/{wildcards.experiment}.nc"
    return inputs


def get_figure_inputs(wildcards):
    spec = FIGURES[wildcards.figure]
    inputs = {"data": DATA}
    for stage in ("particles", "pde", "moments"):
        inputs[stage] = [f"results/{stage}/{e}.nc" for e in spec.get(stage, [])]
    inputs["verification"] = [
        f"results/verification/{e}.nc" for e in figure_experiments(wildcards.figure)
    ]
    return inputs


def solver_threads(stage):
    """The threads of a ``pde`` or ``particles`` job (see SOLVER_THREADS)."""

    def threads(wildcards):
        experiment = SETTINGS.experiments[wildcards.experiment]
        return job_threads(experiment, stage, SOLVER_THREADS)

    return threads


def get_experiment_settings(wildcards):
    """The experiment's configuration (sorted JSON) and base seed: a changed parameter
    reruns exactly the jobs of that experiment (Snakemake's params rerun trigger)."""
    experiment = SETTINGS.experiments[wildcards.experiment]
    return f"seed={SETTINGS.seed} {experiment.to_json()}"


def get_data_settings(wildcards):
    import json

    return f"seed={SETTINGS.seed} {json.dumps(SETTINGS.data[wildcards.dataset], sort_keys=True)}"


def get_figure_settings(wildcards):
    spec = FIGURES[wildcards.figure]
    names = sorted(
        {e for stage in ("particles", "pde", "moments") for e in spec.get(stage, [])}
    )
    return [SETTINGS.experiments[n].to_json() for n in names]


def get_study_inputs(wildcards):
    if wildcards.study == "meanfield":
        names = SETTINGS.studies["meanfield"]["experiments"]
        return [f"results/studies/meanfield/{name}.nc" for name in names]
    return [f"results/studies/{wildcards.study}.nc"]


def get_training_settings(wildcards):
    """The training section, the vehicles' law and the seed (sorted JSON): a change reruns
    the training jobs (rules/training.smk)."""
    import json

    settings = {
        "seed": SETTINGS.seed,
        "training": SETTINGS.training,
        "vehicles": SETTINGS.data["vehicles"],
    }
    return json.dumps(settings, sort_keys=True)
