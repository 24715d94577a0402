from meanfield_resnet import figures, jobs, plotting

log, settings = jobs.start(snakemake)  # noqa: F821
study, out = snakemake.wildcards.study, snakemake.output  # noqa: F821
ds = figures.study_figure_dataset(study, snakemake.input.studies)  # noqa: F821
plotting.save(plotting.study(study, ds), out.png, out.pdf, description=snakemake.params.caption)  # noqa: F821
log.info("wrote %s", list(out))
