from meanfield_resnet import io, jobs, regression_training

log, settings = jobs.start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output[0]  # noqa: F821
ds = regression_training.train_regression(settings, io.read(inp.regression), log=log.info)
if not ds.attrs["accepted"]:
    log.warning("the trained law misses the acceptance of training.regression (see %s)", out)
io.write(ds, out)
log.info("wrote %s (%s)", out, dict(ds.sizes))
