"""The ``mtmri`` console script (filled in below)."""
