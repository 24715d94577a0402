from meanfield_resnet import io, jobs, studies

log, settings = jobs.start(snakemake)  # noqa: F821
wildcards, inp, out = snakemake.wildcards, snakemake.input, snakemake.output[0]  # noqa: F821
if "experiment" in wildcards.keys():  # rule meanfield_study: one experiment
    name = wildcards.experiment
    data, pde = jobs.load_data(inp.data), io.read(inp.pde, experiment=name)
    ds = studies.study_dataset(settings, "meanfield", name, data, pde, log=log.info)
else:  # rule solver_study
    ds = studies.study_dataset(settings, wildcards.study)
# the convergence table pads shorter grid sequences (and the first order) with NaN
io.write(ds, out, missing_ok=True)
log.info("wrote %s (%s)", out, dict(ds.sizes))
