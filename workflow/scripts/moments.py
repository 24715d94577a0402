from meanfield_resnet import io, jobs, pipeline

log, settings = jobs.start(snakemake)  # noqa: F821
inp = snakemake.input  # noqa: F821
exp = settings.experiments[snakemake.wildcards.experiment]  # noqa: F821
particles = io.read(inp.particles) if "particles" in inp.keys() else None
pde = io.read(inp.pde) if "pde" in inp.keys() else None
ds = pipeline.moments_dataset(settings, exp, jobs.load_data(inp.data), particles, pde)
io.write(ds, snakemake.output[0])  # noqa: F821
log.info("wrote %s with sources %s", snakemake.output[0], list(ds.source.values))  # noqa: F821
