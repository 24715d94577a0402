import numpy as np
import xarray as xr

from meanfield_resnet import io, jobs

log, settings = jobs.start(snakemake)  # noqa: F821
points = [io.read(p) for p in snakemake.input]  # noqa: F821
ds = xr.combine_by_coords(
    [p.expand_dims(["activation", "weight", "bias"]) for p in points], combine_attrs="drop"
)
ds["log10_final_variance"] = np.log10(ds["final_variance"])
io.write(io.provenance(ds, "Parameter sweep over (activation, w, b)"), snakemake.output[0])  # noqa: F821
log.info("combined %d sweep points", len(points))
