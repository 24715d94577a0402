from meanfield_resnet import io, jobs, training_study

log, settings = jobs.start(snakemake)  # noqa: F821
out = snakemake.output[0]  # noqa: F821
ds = training_study.parameter_agreement(settings, log=log.info)
io.write(ds, out)
log.info("wrote %s: max |θ_M - θ_MF| / sd = %.2f over %d seeds, bias (θ_∞ - θ_MF) / sd = %s",
         out, ds.attrs["max_abs_z"], ds.sizes["seed"], ds["bias_z"].values.round(2))  # fmt: skip
