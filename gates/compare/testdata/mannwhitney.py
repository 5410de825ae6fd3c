#!/usr/bin/env python3
"""Writes mannwhitney.json: reference values from SciPy's
scipy.stats.mannwhitneyu for the Go tests of package compare.

Run with Debian's python3-scipy (apt-get install -y python3-scipy):
    python3 gates/compare/testdata/mannwhitney.py > gates/compare/testdata/mannwhitney.json
"""
import json
import sys

import numpy as np
import scipy
from scipy.stats import mannwhitneyu

rng = np.random.RandomState(20261205)
samples = [
    ("scipy-doc-males-females", [19, 22, 16, 29, 24], [20, 11, 17, 12]),
    ("single-each", [1.0], [2.0]),
    ("small-disjoint", [5.1, 6.2, 7.3], [1.0, 2.0, 3.0]),
    ("small-ties", [1, 2, 2, 3, 3, 3], [2, 3, 4, 4, 5]),
    ("all-equal", [4, 4, 4], [4, 4, 4, 4]),
    ("heavy-ties-integers", list(rng.randint(0, 4, 30)), list(rng.randint(1, 5, 25))),
    ("eight-vs-forty", list(rng.normal(0.20, 0.02, 8)), list(rng.normal(0.18, 0.02, 40))),
    ("latency-shift", list(rng.lognormal(-1.6, 0.2, 60)), list(rng.lognormal(-1.7, 0.2, 60))),
    ("no-shift-large", list(rng.normal(10, 1, 200)), list(rng.normal(10, 1, 180))),
    ("rounded-ties", list(np.round(rng.normal(1, 0.3, 50), 1)), list(np.round(rng.normal(1.1, 0.3, 45), 1))),
    ("nine-vs-nine", list(rng.normal(0, 1, 9)), list(rng.normal(0.5, 1, 9))),
]
cases = []
for name, x, y in samples:
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    ties = len(set(x + y)) < len(x + y)
    for alt in ("two-sided", "greater", "less"):
        methods = ["auto", "asymptotic"] + ([] if ties or min(len(x), len(y)) > 9 else ["exact"])
        for method in methods:
            r = mannwhitneyu(x, y, alternative=alt, method=method)
            cases.append({"name": name, "x": x, "y": y, "alternative": alt, "method": method,
                          "u": float(r.statistic), "p": float(r.pvalue)})
json.dump({"generator": "scipy.stats.mannwhitneyu", "scipy": scipy.__version__, "cases": cases},
          sys.stdout, indent=1)
sys.stdout.write("\n")
