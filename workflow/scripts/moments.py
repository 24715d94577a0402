from meanfield_resnet import io, jobs, pipeline, verification

log, settings = jobs.start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821
exp = settings.experiments[snakemake.wildcards.experiment]  # noqa: F821
name = snakemake.wildcards.experiment  # noqa: F821
particles = io.read(inp.particles, experiment=name) if "particles" in inp.keys() else None
pde = io.read(inp.pde, experiment=name) if "pde" in inp.keys() else None
data = jobs.load_data(inp.data)
ds = pipeline.moments_dataset(settings, exp, data, particles, pde)
ds.attrs["paper_figure"] = verification.paper_figure(exp)
io.write(ds, out.moments)
log.info("wrote %s with sources %s", out.moments, list(ds.source.values))
layers = int(particles.attrs["layers"]) if particles is not None else None
ledger = verification.verification_dataset(exp, data, pde, ds, layers)
io.write(io.provenance(ledger, f"Verification: experiment {exp.name}"), out.verification,
         missing_ok=True)  # fmt: skip
log.info("verification of %s:\n%s", exp.name, ledger.to_dataframe().to_string())
