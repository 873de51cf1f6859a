"""Paper-ready plots and tables of sweep results (matplotlib, PDF/SVG/PNG)."""
