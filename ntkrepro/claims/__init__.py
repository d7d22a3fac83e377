"""One folder per claim: ``<id>/claim.py`` (the declaration), ``<id>/science.py`` (pure
functions), ``<id>/figures.py`` and ``<id>/test_<id>.py``. :mod:`ntkrepro.registry` discovers them
(every folder with a ``claim.py``); a ``claim.py`` imports its science only inside functions."""
