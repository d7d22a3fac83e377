"""What the tests of the machinery run.

- ``PROBE``: the hidden machinery probe (``ntkrepro/claims/_probe``, numpy only: a run is a kernel start and a
  second). Sweeps and interrupted runs use it; ``HOLD`` keeps a run's kernel busy after it staged its figure,
  long enough for a test to catch it running.
- ``CLAIM``/``FIXED``: tiny parameters of the fastest paper claim, for tests that need a paper claim's
  parameter rules (e.g. a sweep point that fails validation) or its jax path.
"""
from ntkrepro.scaffold import PROBE_ID as PROBE  # one name for the probe: scaffold writes it
HOLD = {"hold_s": 4.0}
CLAIM = "factorized_ntk"
FIXED = {"n": 8, "m": 64, "m_list": [16, 64], "k_list": [2, 4], "steps": 10, "n_draws": 2, "bench_batch": 8,
         "bench_d": 16, "bench_m": 32, "intrinsic_dim": 2}
