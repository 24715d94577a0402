from meanfield_resnet import io, jobs, training_study

log, settings = jobs.start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output[0]  # noqa: F821
vehicles = io.read(inp.vehicles)
ds = training_study.train_vehicles(settings, vehicles, log=log.info)
# the iterations are padded with NaN after each objective's last one
io.write(ds, out, missing_ok=True)
log.info("wrote %s (%s)", out, dict(ds.sizes))
