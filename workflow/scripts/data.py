from meanfield_resnet import datasets, io, jobs

log, settings = jobs.start(snakemake)  # noqa: F821
name = snakemake.wildcards.dataset  # noqa: F821
ds = getattr(datasets, f"{name}_dataset")(settings)
io.write(ds, snakemake.output[0])  # noqa: F821
log.info("wrote %s (%s)", snakemake.output[0], dict(ds.sizes))  # noqa: F821
