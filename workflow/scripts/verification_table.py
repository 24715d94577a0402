from pathlib import Path

from meanfield_resnet import io, jobs, ledger

log, settings = jobs.start(snakemake)  # noqa: F821
out = snakemake.output  # noqa: F821
files = snakemake.input.verification  # noqa: F821
table = ledger.ledger_table([io.read(p, experiment=Path(p).stem) for p in files])
io.write_text(table.to_csv(index=False, float_format="%.3g"), out.csv)
io.write_text(table.to_markdown(index=False, floatfmt=".2g") + "\n", out.md)
log.info("\n%s", table.to_string())
