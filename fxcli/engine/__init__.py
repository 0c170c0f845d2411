"""The indicator engine: streaming indicators with proven batch twins, variants, and the pipeline."""
