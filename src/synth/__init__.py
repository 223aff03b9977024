"""synth: a Jupyter-based evidence synthesis workbench for the co-production literature."""

__version__ = "0.1.0"
