# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmarks' plots, drawn with matplotlib (pinned in requirements-bench.txt; install it
with ``bash bench/setup``: scripts/setup leaves it out so that CI does not pay for it).

``require()`` fails early, before a run of several minutes, when matplotlib is missing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# One colour per series, in the order they are given (matplotlib's default cycle's first ones).
COLOURS = ('tab:blue', 'tab:red', 'tab:green', 'tab:orange', 'tab:purple', 'tab:brown', 'tab:pink', 'tab:olive',
           'tab:cyan', 'tab:gray')
PERCENTILES = (50, 90, 99)


def require():
    """Import matplotlib with the non-interactive backend, or exit with the way to install it."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit('plots need matplotlib, which scripts/setup does not install: run "bash bench/setup" '
                         '(it installs requirements-bench.txt into the virtualenv)')
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def percentile(values, q):
    """The q-th percentile as bench_watcher.percentile computes it (the printed figures and the
    markers agree)."""
    values = sorted(values)
    if not values:
        return float('nan')
    return values[min(len(values) - 1, int(round(q / 100.0 * (len(values) - 1))))]


def latency_cdf(path, title, series, unit='ms', subtitle=None, x_max=None):
    """Write ``path`` (PNG): one cumulative distribution per ``(label, values)`` in ``series``,
    with p50/p90/p99 marked on each curve and named in the legend. ``x_max`` (default: 1.1 times
    the largest p99.5) clips the long tail so that the body stays readable; the legend says
    where the axis was clipped."""
    plt = require()
    series = [(label, sorted(vals)) for label, vals in series if vals]
    fig, ax = plt.subplots(figsize=(10, 6), dpi=100)
    if x_max is None:
        x_max = max([percentile(vals, 99.5) for _label, vals in series] or [1.0]) * 1.1 or 1.0
    markers = ('o', 's', '^')
    for colour, (label, vals) in zip(COLOURS, series):
        n = len(vals)
        ys = [100.0 * (i + 1) / n for i in range(n)]
        quantiles = ', '.join('p%d %.1f' % (q, percentile(vals, q)) for q in PERCENTILES)
        ax.step(vals, ys, where='post', color=colour, linewidth=1.8,
                label='%s (n=%d; %s %s; max %.1f)' % (label, n, quantiles, unit, vals[-1]))
        for marker, q in zip(markers, PERCENTILES):
            v = percentile(vals, q)
            ax.plot([min(v, x_max)], [q], marker=marker, color=colour, markersize=7,
                    markeredgecolor='black', linestyle='none')
    for q in PERCENTILES:
        ax.axhline(q, color='0.8', linewidth=0.8, linestyle='--', zorder=0)
        ax.annotate('p%d' % q, xy=(1.0, q), xycoords=('axes fraction', 'data'), xytext=(4, -3),
                    textcoords='offset points', fontsize=9, color='0.4')
    # The marker shapes, once, in the legend.
    for marker, q in zip(markers, PERCENTILES):
        ax.plot([], [], marker=marker, color='0.5', markeredgecolor='black', linestyle='none', label='p%d marker' % q)
    ax.set_xlim(0, x_max)
    ax.set_ylim(0, 101)
    ax.set_xlabel('latency (%s)%s' % (unit, '; axis clipped at %.0f %s' % (x_max, unit)))
    ax.set_ylabel('share of events at or below this latency (%)')
    ax.set_title(title + ('\n' + subtitle if subtitle else ''), fontsize=10)
    ax.grid(True, color='0.92')
    ax.legend(loc='lower right', fontsize=8, framealpha=0.95)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def growth(path, title, sizes, size_label, measures, subtitle=None):
    """Write ``path`` (PNG): each measure in ``measures`` (``(label, values)``, one value per
    size) divided by its value at the smallest size, against the cluster's size divided by the
    smallest size, on log-log axes, with the line of proportional growth: a measure above that
    line grows faster than the cluster."""
    plt = require()
    fig, ax = plt.subplots(figsize=(10, 6), dpi=100)
    base = float(sizes[0])
    xs = [s / base for s in sizes]
    ax.plot(xs, xs, color='black', linestyle='--', linewidth=1.2, label='proportional to the cluster (ratio = size ratio)')
    drawn = 0
    for i, (label, values) in enumerate(measures):
        if not values or not values[0] or any(v is None for v in values):
            continue
        ys = [v / float(values[0]) for v in values]
        ax.plot(xs, ys, marker='o', color=COLOURS[i % len(COLOURS)], linestyle='-' if i < len(COLOURS) else ':',
                label='%s (%.3g at %d %s)' % (label, values[0], sizes[0], size_label))
        drawn += 1
    from matplotlib import ticker
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: '%g' % v))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xticks(xs)
    ax.set_xticklabels(['%g\n(%d %s)' % (x, s, size_label) for x, s in zip(xs, sizes)])
    ax.set_xlabel('cluster size, as a ratio to the smallest (%s)' % size_label)
    ax.set_ylabel('measure, as a ratio to its value at the smallest size')
    ax.set_title(title + ('\n' + subtitle if subtitle else ''), fontsize=10)
    ax.grid(True, which='both', color='0.92')
    ax.legend(loc='upper left', fontsize=8, framealpha=0.95)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return drawn
