from pathlib import Path

from meanfield_resnet import figures, io, jobs, plotting

log, settings = jobs.start(snakemake)  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821
name, caption = snakemake.wildcards.figure, snakemake.params.caption  # noqa: F821
inputs = {"data": jobs.load_data(inp.data)}
for stage in ("particles", "pde", "moments", "verification"):
    inputs[stage] = {Path(p).stem: io.read(p, experiment=Path(p).stem) for p in inp[stage]}
ds, (draw, options) = figures.build(name, inputs, settings)
io.write(io.provenance(ds, f"Data of {name}", caption=caption), out.data)
drawn = io.read(out.data)
plotting.save(getattr(plotting, draw)(drawn, **options), out.png, out.pdf,
              footer=drawn.attrs.get("verification"), description=caption)  # fmt: skip
log.info("wrote %s", list(out))
