from meanfield_resnet import io, jobs, studies

log, settings = jobs.start(snakemake)  # noqa: F821
table = studies.convergence_frame(io.read(snakemake.input[0]))  # noqa: F821
io.write_text(table.to_csv(index=False, float_format="%.6g"), snakemake.output.csv)  # noqa: F821
io.write_text(table.to_markdown(index=False, floatfmt=".3g") + "\n", snakemake.output.md)  # noqa: F821
log.info("\n%s", table)
