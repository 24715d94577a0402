from meanfield_resnet import io, jobs, studies

log, settings = jobs.start(snakemake)  # noqa: F821
point = snakemake.params.point  # noqa: F821
ds = studies.sweep_point(
    str(point["activation"]),
    float(point["weight"]),
    float(point["bias"]),
    io.read(snakemake.input.vehicles),  # noqa: F821
)
io.write(io.provenance(ds, "Sweep point", dict(point)), snakemake.output[0])  # noqa: F821
log.info("%s: accuracy %.3f, final variance %.4g", dict(point), ds.accuracy, ds.final_variance)
