"""`quantbot walk-forward`: purged, embargoed walk-forward evaluation over the replay engine.

``folds`` builds and checks the train/test windows, ``grid`` reads the parameter grid,
``runner`` runs one grid point over one span as a replay, ``engine`` runs the tasks (serially
or in local processes), ``walk`` puts them together and ``output`` writes what a user reads.
"""
