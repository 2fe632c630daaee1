"""Plots of training runs, shared by the assignments.

    fig = plots.loss_curve(losses)                          # a loss history, as it is
    fig = plots.loss_curve(losses, smoothing=0.98)          # raw values faint, their moving average on top
    fig = plots.loss_curve({"train": a, "dev": b}, ...)     # several histories on one axis

Every function returns a ``matplotlib.figure.Figure`` that is not registered with pyplot (as in
utils/diagrams.py): nothing is shown twice and nothing stays open in scripts. A notebook (with
``%matplotlib inline``) shows the figure when it is the last expression of a cell; a script calls
``fig.savefig(...)``.
"""
import numpy as np

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def moving_average(values, beta):
    """Exponential moving average with bias correction (it starts at values[0], not at 0).

    values: 1-D sequence of numbers; beta in [0, 1): the weight of the past.
    Returns a float array of the same length: s_t / (1 - beta**(t + 1)) with s_t = beta s_{t-1} + (1 - beta) v_t.
    """
    values = np.asarray(values, dtype=np.float64)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"moving_average: beta should be in [0, 1), got {beta}")
    out = np.empty_like(values)
    s = 0.0
    for t, v in enumerate(values):
        s = beta * s + (1.0 - beta) * v
        out[t] = s
    return out / (1.0 - beta ** np.arange(1, len(values) + 1))


def loss_curve(losses, smoothing=None, levels=None, title="Training loss", xlabel="iteration",
               ylabel="loss", logy=False, figsize=(7.5, 3.6)):
    """A Figure with one or several loss histories.

    losses:    a sequence of numbers (one per iteration, epoch, ...), or a dict label -> sequence.
    smoothing: None to draw the values as they are; a beta in (0, 1) to draw them faintly with their
               bias-corrected exponential moving average (``moving_average``) on top.
    levels:    optional dict label -> y value, drawn as dashed horizontal lines (e.g. a baseline).
    logy:      a logarithmic y axis.
    Returns a matplotlib Figure.
    """
    series = losses if isinstance(losses, dict) else {None: losses}
    from matplotlib.figure import Figure     # imported when a plot is drawn: importing utils stays light (0.5 s)
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    for k, (label, values) in enumerate(series.items()):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"loss_curve: each history should be 1-D, got shape {values.shape}")
        x = np.arange(1, len(values) + 1)
        color = COLORS[k % len(COLORS)]
        if smoothing:
            ax.plot(x, values, color=color, alpha=0.25, linewidth=0.8)
            ax.plot(x, moving_average(values, smoothing), color=color, linewidth=1.8,
                    label=f"{label} (smoothed)" if label else "smoothed")
        else:
            ax.plot(x, values, color=color, linewidth=1.8, label=label)
    for label, y in (levels or {}).items():
        ax.axhline(y, color="0.4", linestyle="--", linewidth=1)
        ax.annotate(label, (1, y), xycoords=("axes fraction", "data"), xytext=(-4, -3),
                    textcoords="offset points", ha="right", va="top", fontsize=9, color="0.3")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(series) > 1 or smoothing:
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig
