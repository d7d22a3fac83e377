import matplotlib

matplotlib.use("Agg")

import ntkrepro  # noqa: E402,F401  (turns on float64 in jax)
