from meanfield_resnet import io, jobs, studies

log, settings = jobs.start(snakemake)  # noqa: F821
points = [io.read(p) for p in snakemake.input.points]  # noqa: F821
ds = studies.combine_sweep(points)
io.write(io.provenance(ds, "Parameter sweep over (activation, w, b)"), snakemake.output[0])  # noqa: F821
log.info("combined %d sweep points", len(points))
