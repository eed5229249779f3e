"""Mean-field edge of chaos for deep tanh nets (Poole et al. 2016; Schoenholz et al. 2017).

A random tanh net with W ~ N(0, sigma_w^2 / n), b ~ N(0, sigma_b^2) maps the correlation of two
inputs through c_{l+1} = (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2) / q*; its slope at c = 1,
chi_1, separates the ordered phase (chi_1 < 1: inputs collapse onto one signal) from the chaotic
one (chi_1 > 1: nearby inputs decorrelate). Xavier's Var = 1/n with zero bias sits at chi_1 = 1.
Split out of bench/test_theory.py; pure numerics, no dataset.

References:
    Poole et al. (2016), Exponential expressivity in deep neural networks through transient chaos.
    Schoenholz et al. (2017), Deep information propagation (arXiv:1611.01232).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

SIGMA_B2 = 0.05  # bias variance of the edge-of-chaos checks
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(101)  # Gauss-Hermite nodes for E over N(0, 1)
_GH_W = _GH_W / _GH_W.sum()


def q_star(sigma_w2: float, sigma_b2: float = SIGMA_B2) -> float:
    """Fixed point of the length map q = sigma_w^2 E_z[tanh(sqrt(q) z)^2] + sigma_b^2."""
    q = 1.0
    for _ in range(1000):
        q = sigma_w2 * float(np.sum(_GH_W * np.tanh(math.sqrt(q) * _GH_X) ** 2)) + sigma_b2
    return q


def chi_1(sigma_w2: float, sigma_b2: float = SIGMA_B2) -> float:
    """chi_1 = sigma_w^2 E_z[tanh'(sqrt(q*) z)^2]: the slope of the correlation map at c = 1."""
    slope = 1 - np.tanh(math.sqrt(q_star(sigma_w2, sigma_b2)) * _GH_X) ** 2
    return sigma_w2 * float(np.sum(_GH_W * slope**2))


def critical_sigma_w2(sigma_b2: float = SIGMA_B2) -> float:
    """The sigma_w^2 where chi_1 = 1 (chi_1 grows with sigma_w^2), by bisection."""
    low, high = 1.0, 4.0
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if chi_1(mid, sigma_b2) < 1 else (low, mid)
    return (low + high) / 2


def test_edge_of_chaos_critical_point():
    """Schoenholz et al. (2017), eq. 3-5: chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] = 1 at the edge.

    For tanh and sigma_b^2 = 0.05 their Fig. 1 puts the edge at sigma_w^2 ~ 1.76; computed here by
    quadrature of the fixed point q* and bisection on chi_1: 1.7610 (q* = 0.570).
    """
    critical = critical_sigma_w2()
    assert abs(critical - 1.76) < 0.01, f"critical sigma_w^2 = {critical:.4f}, expected ~1.76"
    assert chi_1(1.3) < 1 < chi_1(2.5), "chi_1 must cross 1 between the two phases"


def _correlation_after(sigma_w2: float, depth: int, c0: float, seed: int = 0,
                       width: int = 1000) -> list[float]:
    """Correlation of two inputs at every layer of a random deep tanh net (mean-field init).

    W_l ~ N(0, sigma_w^2 / n), b_l ~ N(0, sigma_b^2); the inputs have length q* and
    correlation c0, so the net starts at its length fixed point.
    """
    generator = torch.Generator().manual_seed(seed)
    normal = torch.randn(2, width, generator=generator, dtype=torch.float64)
    u = normal[0] / normal[0].norm()
    v = normal[1] - (normal[1] @ u) * u
    v = v / v.norm()
    x = math.sqrt(q_star(sigma_w2) * width) * torch.stack([u, c0 * u + math.sqrt(1 - c0**2) * v])
    h, out = torch.tanh(x), []
    for _ in range(depth):
        w = torch.randn(width, width, generator=generator, dtype=torch.float64)
        b = torch.randn(width, generator=generator, dtype=torch.float64)
        z = h @ w.T * math.sqrt(sigma_w2 / width) + b * math.sqrt(SIGMA_B2)  # (2, width)
        out.append(float(F.cosine_similarity(z[0], z[1], dim=0)))
        h = torch.tanh(z)
    return out


# width 500, depth 30, seeds 0-4: ordered (sigma_w^2 = 1.0, chi_1 = 0.76) two inputs at c0 = 0.5
# reach 0.9998-0.9999 (mean-field c-map: 0.99988); chaotic (sigma_w^2 = 4.0, chi_1 = 1.34) two
# inputs at c0 = 0.99 fall to 0.02-0.34 (mean-field after 30 layers 0.25, fixed point c* = 0.165).
# Bounds: ordered > 0.995, chaotic < 0.6 (1.8x the largest seen).
@pytest.mark.parametrize("sigma_w2,c0,ordered", [(1.0, 0.5, True), (4.0, 0.99, False)],
                         ids=["ordered-sw2=1", "chaotic-sw2=4"])
def test_edge_of_chaos_correlation_phases(sigma_w2, c0, ordered):
    """Poole et al. (2016): c_{l+1} = (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2) / q*.

    Its fixed point c = 1 is stable when chi_1 < 1 (ordered: any two inputs become the same
    signal) and unstable when chi_1 > 1 (chaotic: even nearby inputs decorrelate to c* < 1).
    """
    assert (chi_1(sigma_w2) < 1) == ordered
    c = _correlation_after(sigma_w2, depth=30, c0=c0, width=500)
    if ordered:
        assert c[-1] > 0.995, f"ordered phase: correlation {c0} -> {c[-1]:.4f}, expected -> 1"
    else:
        assert c[-1] < 0.6, f"chaotic phase: correlation {c0} -> {c[-1]:.4f}, expected < 0.6"
