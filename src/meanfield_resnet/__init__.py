"""Mean-field and kinetic descriptions of residual neural networks.

Reference implementation of Herty, Trimborn & Visconti, "Mean-field and kinetic
descriptions of neural differential equations", Foundations of Data Science 4(2),
271-298 (2022), doi:10.3934/fods.2022007.
"""

__version__ = "0.1.0"
PAPER_DOI = "10.3934/fods.2022007"
