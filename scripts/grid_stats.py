"""Statistics of the reproduction grid (scripts/reproduce.py): mean and
standard deviation over seeds, the Student t quantile, and Welch's 95 %
confidence interval for a difference of two means.

The t quantile is found by bisection on the t distribution's CDF, written
with the regularized incomplete beta function, which is evaluated by its
continued fraction (modified Lentz).  Only the standard library is used.
"""
import math


def mean_std(values):
    """Mean and sample standard deviation (n - 1); std is None for n < 2."""
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def _beta_fraction(x, a, b):
    """The continued fraction of I_x(a, b): 1 / (1 + d1 / (1 + d2 / ...)),
    d(2m+1) = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),
    d(2m)   = m (b-m) x / ((a+2m-1)(a+2m))."""
    tiny = 1e-300
    f, c, d = tiny, tiny, 0.0   # Lentz: f = b0 + a1/(b1 + ...), with b0 = 0 -> tiny
    for i in range(0, 400):
        if i == 0:
            coef = 1.0
        elif i % 2:
            m = (i - 1) // 2
            coef = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            m = i // 2
            coef = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + coef * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + coef / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return f


def incomplete_beta(x, a, b):
    """The regularized incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):        # the fraction converges fast below this
        return 1.0 - incomplete_beta(1.0 - x, b, a)
    log_front = (a * math.log(x) + b * math.log1p(-x)
                 + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))
    return math.exp(log_front) / a * _beta_fraction(x, a, b)


def t_cdf(t, df):
    """P(T <= t) for Student's t with df degrees of freedom (df > 0, real)."""
    tail = 0.5 * incomplete_beta(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p, df):
    """The t with P(T <= t) = p, for 0.5 <= p < 1, by bisection."""
    if not 0.5 <= p < 1:
        raise ValueError("p must be in [0.5, 1)")
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def welch(a, b, level=0.95):
    """Mean of a minus mean of b with Welch's confidence interval.
    Returns dict(diff, low, high, df, se); low/high/df are None when a
    sample has fewer than two values.  Equal values everywhere (se = 0)
    give the interval [diff, diff]."""
    ma, sa = mean_std(a)
    mb, sb = mean_std(b)
    diff = ma - mb
    if sa is None or sb is None:
        return {"diff": diff, "low": None, "high": None, "df": None, "se": None}
    va, vb = sa * sa / len(a), sb * sb / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return {"diff": diff, "low": diff, "high": diff, "df": None, "se": 0.0}
    df = (va + vb) ** 2 / (va * va / (len(a) - 1) + vb * vb / (len(b) - 1))
    half = t_quantile(0.5 + level / 2, df) * se
    return {"diff": diff, "low": diff - half, "high": diff + half, "df": df, "se": se}


def paired(a, b, level=0.95):
    """Mean of the differences a[s] - b[s] over the seeds both dicts have,
    with Student's interval (df = n - 1): the runs of two cells with the
    same seed see the same batches (docs/reproducing.md, "Paired runs"), so
    their differences leave out what the data order adds to each.  Returns
    dict(diff, low, high, df, se, n); low/high/df are None below two pairs."""
    seeds = sorted(set(a) & set(b))
    d = [a[s] - b[s] for s in seeds]
    if not d:
        return {"diff": None, "low": None, "high": None, "df": None, "se": None, "n": 0}
    m, sd = mean_std(d)
    if sd is None:
        return {"diff": m, "low": None, "high": None, "df": None, "se": None, "n": len(d)}
    se = sd / math.sqrt(len(d))
    half = t_quantile(0.5 + level / 2, len(d) - 1) * se if se > 0 else 0.0
    return {"diff": m, "low": m - half, "high": m + half, "df": len(d) - 1, "se": se, "n": len(d)}


def seeds_needed(delta, sd, paired_design=False, level=0.95, power=0.8):
    """The seeds a cell needs for a difference of delta to be detected by a
    two-sided test at `level` with probability `power`, when the runs'
    standard deviation is sd (or, paired, that of the differences):
    the smallest n with n >= k (t_{1-alpha/2} + t_{power})^2 sd^2 / delta^2,
    k = 2 for two samples of n (df 2n - 2), 1 for n pairs (df n - 1)."""
    k = 1 if paired_design else 2
    n = 2
    while True:
        df = n - 1 if paired_design else 2 * n - 2
        t = t_quantile(0.5 + level / 2, df) + t_quantile(power, df)
        if n >= k * (t * sd / delta) ** 2:
            return n
        n += 1
