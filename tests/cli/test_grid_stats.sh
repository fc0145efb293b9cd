#!/bin/sh
# The statistics of scripts/reproduce.py (scripts/grid_stats.py) against
# values worked out by hand and from printed t tables.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 - > "$WORK/stats.out" 2>&1 <<'PYEOF'
import sys
sys.path.insert(0, "scripts")
import grid_stats as g

def close(a, b, tol):
    return abs(a - b) <= tol

ok = []
# Student t, 97.5 % point, from the printed tables
ok.append(("t_quantiles", all(close(g.t_quantile(0.975, df), t, 5e-4) for df, t in
           ((1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (30, 2.042), (1e7, 1.960)))))
# I_0.3(2, 3) = sum_{j=2..4} C(4, j) 0.3^j 0.7^(4-j) = 0.2646 + 0.0756 + 0.0081
ok.append(("incomplete_beta", close(g.incomplete_beta(0.3, 2, 3), 0.3483, 1e-12)
           and close(g.t_cdf(0, 3), 0.5, 1e-12) and close(g.t_cdf(-2.776, 4), 0.025, 1e-4)))
# Equal variances and sizes: means 2 and 4, variances 1, n = 3:
# se = sqrt(1/3 + 1/3) = 0.81650, df = (2/3)^2 / (2 (1/3)^2 / 2) = 4,
# interval -2 -+ 2.7764 * 0.81650 = [-4.2670, 0.2670]
w = g.welch([1, 2, 3], [3, 4, 5])
ok.append(("welch_equal_variances", close(w["diff"], -2, 1e-12) and close(w["df"], 4, 1e-9)
           and close(w["se"], 0.816497, 1e-6) and close(w["low"], -4.2670, 5e-4) and close(w["high"], 0.2670, 5e-4)))
# Unequal variances 1 and 4, n = 3: se^2 = 5/3, df = (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = 50/17,
# so the t point lies between those of 2 and 3 degrees of freedom (4.303, 3.182)
w = g.welch([1, 2, 3], [4, 6, 8])
half = (w["high"] - w["low"]) / 2 / w["se"]
ok.append(("welch_satterthwaite_df", close(w["df"], 50 / 17, 1e-12) and close(w["se"] ** 2, 5 / 3, 1e-12)
           and 3.182 < half < 4.303 and close(w["diff"], -4, 1e-12)))
# One seed: no interval; identical values: a zero-width interval
w1 = g.welch([1.0], [2.0, 3.0])
w0 = g.welch([2.0, 2.0], [1.0, 1.0])
ok.append(("welch_edge_cases", w1["low"] is None and w1["diff"] == -1.5 and w0["low"] == w0["high"] == 1.0))
m, s = g.mean_std([2, 4, 4, 4, 5, 5, 7, 9])
ok.append(("mean_std", m == 5 and close(s, (32 / 7) ** 0.5, 1e-12) and g.mean_std([3])[1] is None))
# Paired: the differences 1, 1, 2 (mean 4/3, sd 1/sqrt 3), t(0.975, 2) = 4.303;
# seeds without a partner are left out
p = g.paired({1: 1, 2: 2, 3: 4, 9: 0}, {1: 0, 2: 1, 3: 2, 8: 5})
ok.append(("paired_interval", p["n"] == 3 and p["df"] == 2 and close(p["diff"], 4 / 3, 1e-12)
           and close(p["se"], 1 / 3, 1e-12) and close(p["high"] - p["diff"], 4.3027 / 3, 1e-4)))
ok.append(("paired_edge_cases", g.paired({1: 1}, {1: 3})["low"] is None and g.paired({1: 1}, {2: 1})["n"] == 0))
# Seeds for 80 % power at 95 %, as published tables give them (Cohen's d):
# two samples, d = 1: 17, d = 0.5: 64; paired, d = 1: 10, d = 0.5: 34
ok.append(("seeds_needed", [g.seeds_needed(1, 1), g.seeds_needed(0.5, 1), g.seeds_needed(1, 1, True),
                            g.seeds_needed(0.5, 1, True)] == [17, 64, 10, 34]))
# The claims' verdicts: from the paired interval where there is one
import grid_report as r
v = lambda low, high, paired=True: r.classify_difference(
    {"low": -9, "high": 9, "paired": {"low": low, "high": high} if paired else None} if paired else
    {"low": low, "high": high, "paired": {"low": None, "high": None}})
ok.append(("claim_verdicts", [v(-0.5, -0.1), v(0.1, 0.4), v(-0.2, 0.25), v(-0.5, 0.2), v(-0.5, -0.1, False),
                              v(None, None)] == ["seen", "reversed", "not seen", "undecided at this power", "seen",
                                                 "undecided at this power"]))
for name, good in ok:
    print(("PASS " if good else "FAIL ") + name)
PYEOF
cat "$WORK/stats.out"
