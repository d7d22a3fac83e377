import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import ntkrepro  # noqa: E402,F401  (turns on float64 in jax)
