"""Quadrature rules of the exact engines: Gauss-Kronrod 7/15 nodes and weights (QUADPACK
qk15) with the embedded Gauss rule, the antiderivative of the Kronrod interpolant (for
quantiles without further likelihood evaluations), and tanh-sinh nodes on (0, 1)."""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial import legendre
from scipy import special


# Gauss-Kronrod 7/15 (QUADPACK qk15), nodes ascending on [-1, 1].
_XGK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                 0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                 0.207784955007898467600689403773245, 0.0])
_WGK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                 0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                 0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WG = {1: 0.129484966168869693270611432679082, 3: 0.279705391489276667901467771423780,
       5: 0.381830050505118944950369775488975, 7: 0.417959183673469387755102040816327}
GK_T = np.concatenate([-_XGK[:7], [0.0], _XGK[:7][::-1]])
GK_W = np.concatenate([_WGK[:7], [_WGK[7]], _WGK[:7][::-1]])
G7_W = np.zeros(15)
for _i, _w in _WG.items():
    G7_W[_i] = _w
    G7_W[14 - _i] = _w
# Antiderivative (from -1) of the degree-14 interpolant through the 15 Kronrod nodes,
# in the Legendre basis: coefficients = _CUM @ values.
_INTERP = np.linalg.inv(legendre.legvander(GK_T, 14))             # values -> Legendre coefs
_CUM = np.stack([legendre.legint(c, lbnd=-1) for c in _INTERP.T], axis=1)
_GRID_T = np.linspace(-1.0, 1.0, 65)
_GRID_V = legendre.legvander(_GRID_T, 15)


def _tanh_sinh(h=1.0 / 8.0, tmax=3.3):
    """Tanh-sinh nodes and weights on (0, 1), with ``1 - v`` kept separately."""
    t = np.arange(-tmax, tmax + h / 2, h)
    s = 0.5 * math.pi * np.sinh(t)
    v = special.expit(2.0 * s)          # 0.5 (1 + tanh(s))
    vc = special.expit(-2.0 * s)
    w = h * 0.5 * math.pi * np.cosh(t) / np.cosh(s) ** 2 * 0.5
    return v, vc, w


_TS_V, _TS_VC, _TS_W = _tanh_sinh()
