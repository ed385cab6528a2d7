"""A trained logistic regression as plain arrays, calibrated by a temperature.

Used by `components.intent_blend`: the model is persisted as arrays (no pickles) and its
probabilities are `softmax(scores / temperature)`, the temperature fitted on out-of-fold
decision scores (`fit_temperature`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a 2-d array of scores."""
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(scores / T).

    Args:
        scores: Decision scores, one row per example, one column per class.
        truth: Column of the true class per row.

    Returns:
        T in [e^-3, e^3]; 1.0 when there is nothing to fit on.
    """
    from scipy.optimize import minimize_scalar

    if len(truth) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        z = scores / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(truth)), truth].mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


@dataclass(frozen=True)
class LinearHead:
    """A trained logistic regression as plain arrays, with its calibration temperature."""

    coef: np.ndarray
    intercept: np.ndarray
    temperature: float

    @classmethod
    def of(cls, model: LogisticRegression, temperature: float) -> LinearHead:
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:  # binary: sklearn keeps one row; make it a two-way softmax
            coef = np.vstack([-coef, coef]) / 2.0
            intercept = np.array([-intercept[0], intercept[0]]) / 2.0
        return cls(coef.astype(np.float32), intercept.astype(np.float32), float(temperature))

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        return {f"{name}_coef": self.coef, f"{name}_intercept": self.intercept}

    @classmethod
    def load(cls, arrays: Any, name: str, temperatures: dict[str, float]) -> LinearHead | None:
        if f"{name}_coef" not in arrays:
            return None
        return cls(
            arrays[f"{name}_coef"],
            arrays[f"{name}_intercept"],
            float(temperatures.get(name, 1.0)),
        )

    def probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        scores = np.asarray(features @ self.coef.T + self.intercept, dtype=np.float64)
        return softmax(scores / self.temperature)
