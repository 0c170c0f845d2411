"""Overfitting statistics for a study: PSR/DSR/MinTRL/MinBTL, PBO by CSCV, walk-forward
efficiency, Monte Carlo on trades. Pure functions of numbers (numpy and the standard library);
formulas and fixtures are in docs/optimize.md §3-§4 of the shared notes."""
