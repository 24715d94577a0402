from meanfield_resnet import io, jobs, plotting, regression_training

log, settings = jobs.start(snakemake)  # noqa: F821
inp, out, caption = snakemake.input, snakemake.output, snakemake.params.caption  # noqa: F821
ds = regression_training.figure_dataset(io.read(inp.trained))
io.write(io.provenance(ds, "Data of training_regression", caption=caption), out.data)
drawn = io.read(out.data)
plotting.save(plotting.training_regression(drawn), out.png, out.pdf, description=caption)
log.info("wrote %s", list(out))
