from meanfield_resnet import io, jobs, particles

log, settings = jobs.start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821
exp = settings.experiments["fig3_vehicles"]
csv, md, accuracy = particles.classification_table(
    exp, io.read(inp.vehicles), io.read(inp.particles, experiment=exp.name)
)
io.write_text(csv, out.csv)
io.write_text(md, out.md)
log.info("accuracy %.3f; wrote %s", accuracy, list(out))
