from meanfield_resnet import io, jobs, plotting, training_study

log, settings = jobs.start(snakemake)  # noqa: F821
inp, out, caption = snakemake.input, snakemake.output, snakemake.params.caption  # noqa: F821
ds = training_study.figure_dataset(
    io.read(inp.trained), io.read(inp.gradient), io.read(inp.agreement)
)
io.write(io.provenance(ds, "Data of training", caption=caption), out.data, missing_ok=True)
drawn = io.read(out.data)
plotting.save(plotting.training(drawn), out.png, out.pdf, description=caption)
log.info("wrote %s", list(out))
