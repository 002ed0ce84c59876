"""Continuous arm data reported other than as mean and SD, converted to mean and SD (each
conversion stated in the output):

* median with IQR and/or range -> mean (Luo et al. 2018) and SD (Wan et al. 2014), for the
  three scenarios {min, median, max}, {q1, median, q3} and {min, q1, median, q3, max};
* the SE of a mean -> SD = SE·√n; a CI of a mean -> SD = √n·(upper − lower)/(2·t_{n−1}) at its
  level (Cochrane Handbook 6.5.2.2);
* change from baseline from baseline and final means and SDs with a stated correlation r:
  mean = final − baseline, SD = √(SD_b² + SD_f² − 2·r·SD_b·SD_f) (Handbook 6.5.2.8).

References
----------
Wan X, Wang W, Liu J, Tong T. Estimating the sample mean and standard deviation from the
sample size, median, range and/or interquartile range. BMC Med Res Methodol 2014;14:135.
Luo D, Wan X, Liu J, Tong T. Optimally estimating the sample mean from the sample size,
median, mid-range, and/or mid-quartile range. Stat Methods Med Res 2018;27:1785-1805.
"""

from __future__ import annotations

import math

from scipy import special, stats


def _z(p):
    return float(special.ndtri(p))


def from_quantiles(n, median, q1=None, q3=None, lo=None, hi=None):
    """(mean, sd, how) by Luo 2018 (mean) and Wan 2014 (SD)."""
    iqr = q1 is not None and q3 is not None
    rng = lo is not None and hi is not None
    xi = 2 * _z((n - 0.375) / (n + 0.25))
    eta = 2 * _z((0.75 * n - 0.125) / (n + 0.25))
    if iqr and rng:  # S3
        w1 = 2.2 / (2.2 + n**0.75)
        w2 = 0.7 - 0.72 / n**0.55
        mean = w1 * (lo + hi) / 2 + w2 * (q1 + q3) / 2 + (1 - w1 - w2) * median
        sd = (hi - lo) / (2 * xi) + (q3 - q1) / (2 * eta)
        return mean, sd, "median, IQR and range (Luo 2018 mean, Wan 2014 SD)"
    if iqr:  # S2
        w = 0.7 + 0.39 / n
        return (w * (q1 + q3) / 2 + (1 - w) * median, (q3 - q1) / eta,
                "median and IQR (Luo 2018 mean, Wan 2014 SD)")
    w = 4 / (4 + n**0.75)  # S1
    return w * (lo + hi) / 2 + (1 - w) * median, (hi - lo) / xi, "median and range (Luo 2018 mean, Wan 2014 SD)"


def sd_from_se(se, n):
    return se * math.sqrt(n)


def sd_from_ci(lo, hi, n, level=0.95):
    return math.sqrt(n) * (hi - lo) / (2 * float(stats.t.ppf(0.5 + level / 2, n - 1)))


def change_sd(sd_b, sd_f, r):
    return math.sqrt(sd_b**2 + sd_f**2 - 2 * r * sd_b * sd_f)
