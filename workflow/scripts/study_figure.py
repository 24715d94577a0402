from pathlib import Path

import xarray as xr

from meanfield_resnet import io, jobs, plotting

log, settings = jobs.start(snakemake)  # noqa: F821
study = snakemake.wildcards.study  # noqa: F821
# the meanfield study has one file per experiment, named after it
parts = [
    io.read(p, experiment=Path(p).stem if study == "meanfield" else None)
    for p in snakemake.input.studies  # noqa: F821
]
if study == "meanfield":  # one file per experiment; its fit is in the attributes
    parts = [
        p.assign(
            {
                f"fit_{k}": p.attrs[k]
                for k in ("slope", "slope_ci_low", "slope_ci_high", "intercept")
            }
        ).expand_dims(experiment=[Path(f).stem])
        for p, f in zip(parts, snakemake.input.studies, strict=True)  # noqa: F821
    ]
ds = xr.concat(parts, dim="experiment") if study == "meanfield" else parts[0]
out = snakemake.output  # noqa: F821
plotting.save(getattr(plotting, study)(ds), out.png, out.pdf)
log.info("wrote %s", list(out))
