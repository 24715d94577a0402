rule figure:
    input:
        unpack(get_figure_inputs),
        code=code_inputs("figure.py"),
    output:
        png=report(
            "results/figures/{figure}.png",
            caption="../report/caption.rst",
            category="Figures",
        ),
        pdf="results/figures/{figure}.pdf",
        data="results/figures/{figure}.nc",
    log:
        "results/logs/figures/{figure}.log",
    conda:
        "../../environment.yml"
    params:
        settings=get_figure_settings,
        caption=caption("figures"),
    script:
        "../scripts/figure.py"


rule table1:
    input:
        vehicles="results/data/vehicles.nc",
        particles="results/particles/fig3_vehicles.nc",
        code=code_inputs("table1.py"),
    output:
        csv=report(
            "results/tables/table1.csv",
            caption="../report/table1.rst",
            category="Tables",
        ),
        md="results/tables/table1.md",
    log:
        "results/logs/tables/table1.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/table1.py"
