from meanfield_resnet import io, jobs, particles

log, settings = jobs.start(snakemake)  # noqa: F821
exp = settings.experiments[snakemake.wildcards.experiment]  # noqa: F821
data = jobs.load_data(snakemake.input.data)  # noqa: F821
ds = particles.particles_dataset(settings, exp, data, log=log.info)
ds.attrs["paper_figure"] = exp.raw.get("figure", "")  # the paper figure it serves
io.write(ds, snakemake.output[0])  # noqa: F821
log.info("wrote %s (%s)", snakemake.output[0], dict(ds.sizes))  # noqa: F821
