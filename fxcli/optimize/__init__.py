"""`fx optimize`: the search space, trials over cached columns, studies and their results."""
