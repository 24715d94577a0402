from pathlib import Path

from meanfield_resnet import figures, io, jobs, plotting

log, settings = jobs.start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821
inputs = {"data": jobs.load_data(inp.data)}
for stage in ("particles", "pde", "moments", "verification"):
    inputs[stage] = {Path(p).stem: io.read(p, experiment=Path(p).stem) for p in inp[stage]}
ds, (draw, options) = figures.build(snakemake.wildcards.figure, inputs, settings)  # noqa: F821
io.write(io.provenance(ds, f"Data of {snakemake.wildcards.figure}"), out.data)  # noqa: F821
drawn = io.read(out.data)
plotting.save(getattr(plotting, draw)(drawn, **options), out.png, out.pdf,
              footer=drawn.attrs.get("verification"))  # fmt: skip
log.info("wrote %s", list(out))
