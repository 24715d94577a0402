from meanfield_resnet import io, jobs, training_study

log, settings = jobs.start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output[0]  # noqa: F821
ds = training_study.gradient_convergence(settings, io.read(inp.trained), log=log.info)
io.write(ds, out)
log.info("wrote %s: slope %.3f [%.3f, %.3f]", out, ds.attrs["slope"],
         ds.attrs["slope_ci_low"], ds.attrs["slope_ci_high"])  # fmt: skip
