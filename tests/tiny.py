"""Tiny parameters of the fastest claim (seconds per run): tests of the machinery (sweeps, runs after an
interruption) use them; they test the machinery, not the science."""
CLAIM = "factorized_ntk"
FIXED = {"n": 8, "m": 64, "m_list": [16, 64], "k_list": [2, 4], "steps": 10, "n_draws": 2, "bench_batch": 8,
         "bench_d": 16, "bench_m": 32, "intrinsic_dim": 2}
