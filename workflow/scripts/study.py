from meanfield_resnet import io, jobs, studies

log, settings = jobs.start(snakemake)  # noqa: F821
out = snakemake.output[0]  # noqa: F821
if "experiment" in snakemake.wildcards.keys():  # noqa: F821
    spec = settings.studies["meanfield"]
    exp = settings.experiments[snakemake.wildcards.experiment]  # noqa: F821
    data = jobs.load_data(snakemake.input.data)  # noqa: F821
    ds = studies.meanfield_convergence(
        settings,
        exp,
        data,
        io.read(snakemake.input.pde, experiment=snakemake.wildcards.experiment),  # noqa: F821
        spec["particles"],
        spec["seeds"],
        spec["layers"],
        log=log.info,
    )
    title = f"Mean-field limit: W1(particles, PDE) against M, experiment {exp.name}"
else:
    study = snakemake.wildcards.study  # noqa: F821
    ds = getattr(studies, study)()
    title = f"Study: {study}"
# the convergence table pads shorter grid sequences (and the first order) with NaN
io.write(io.provenance(ds, title, settings.studies, settings.seed), out, missing_ok=True)
log.info("wrote %s", out)
