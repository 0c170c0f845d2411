"""Parameter search: the search space, the trial runner over cached columns, the Optuna study."""
