"""Drawings of recurrent cells, made with matplotlib from boxes, circles, arrows and labels.

    fig = diagrams.rnn_cell()          # one vanilla RNN step
    fig = diagrams.lstm_cell()         # one LSTM step, gates and cell-state line
    fig = diagrams.gru_cell()          # one GRU step, update and relevance gates
    fig = diagrams.unrolled_rnn(4)     # a network unrolled over T_x = 4 steps
    fig = diagrams.char_model("mei")   # dinosaur_island's character model (sampling=True: its sampling loop)

Every function returns a ``matplotlib.figure.Figure`` that is not registered with pyplot, so
nothing is shown twice in a notebook and nothing is left open in scripts: a notebook displays
the figure when it is the last expression of a cell, a script calls ``fig.savefig(...)``.
Labels follow the course notation: a superscript <t> is the time step.

The assignments do not draw these at run time: ``python -m tools.diagrams`` renders each drawing
a teacher notebook shows into it as a PNG attached to a markdown cell, so the pictures are there
before any cell has run. After changing this file, run that command (tests/test_diagrams.py
fails until then).
"""
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

# Colours: one per kind of thing, used the same way in every drawing.
INK = "#222222"          # arrows and text
CELL = "#f4f6fb"         # background of one cell
LINEAR = "#dce9f7"       # boxes holding an affine map + activation
GATE = "#fde2c4"         # sigmoid gates
OUTPUT = "#d9f0d3"       # softmax output
POINTWISE = "#ffffff"    # elementwise nodes (x, +, 1-, tanh)
GRAD = "#c0392b"         # gradients flowing backwards

R_NODE = 0.3             # radius of an elementwise node, in data units


def _t(name, step="t"):
    """Mathtext for a symbol at a time step, e.g. _t('a', 't-1') -> $a^{<t-1>}$."""
    return rf"${name}^{{\langle {step} \rangle}}$"


def _canvas(width, height, scale=0.62):
    """A Figure with one axis spanning it, data units 0..width by 0..height, no ticks."""
    fig = Figure(figsize=(width * scale, height * scale))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _box(ax, x, y, w, h, text, face, fontsize=12):
    """A rounded box centred on (x, y), w by h, with centred text."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.15",
                                facecolor=face, edgecolor=INK, linewidth=1.3, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=INK, zorder=4)


def _node(ax, x, y, text, fontsize=12, r=R_NODE):
    """A small circle centred on (x, y) holding an elementwise operation."""
    ax.add_patch(Circle((x, y), r, facecolor=POINTWISE, edgecolor=INK, linewidth=1.3, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=INK, zorder=4)


def _line(ax, points, color=INK, style="-", arrow=True):
    """A polyline through ``points``; an arrowhead on the last point when ``arrow``.

    Each line is drawn over a white halo, so a line that crosses another shows a small gap
    instead of an ambiguous junction.
    """
    xs, ys = zip(*points)
    ax.plot(xs, ys, color="white", linewidth=5, solid_capstyle="butt", zorder=1)
    ax.plot(xs, ys, color=color, linestyle=style, linewidth=1.4, zorder=2)
    if arrow:
        ax.annotate("", xy=points[-1], xytext=points[-2], zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color=color, linewidth=1.4, linestyle=style,
                                    shrinkA=0, shrinkB=0, mutation_scale=14))


def _label(ax, x, y, text, color=INK, fontsize=13, ha="center", va="center"):
    ax.text(x, y, text, ha=ha, va=va, fontsize=fontsize, color=color, zorder=5)


def _cell_frame(ax, x0, y0, x1, y1):
    """The shaded rectangle that marks the inside of one cell."""
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=CELL, edgecolor="#9aa5b8",
                           linewidth=1.0, linestyle="--", zorder=0))


def rnn_cell():
    """One step of a vanilla RNN: a<t> = tanh(Waa a<t-1> + Wax x<t> + ba), y<t> = softmax(Wya a<t> + by).

    Returns a matplotlib Figure.
    """
    fig, ax = _canvas(12, 7)
    _cell_frame(ax, 1.6, 0.9, 10.2, 5.4)
    _box(ax, 5.2, 2.4, 5.4, 1.0, r"$\tanh(W_{aa}\,a^{\langle t-1 \rangle} + W_{ax}\,x^{\langle t \rangle} + b_a)$",
         LINEAR)
    _box(ax, 8.6, 4.3, 2.6, 0.9, r"softmax$(W_{ya}\,a^{\langle t \rangle} + b_y)$", OUTPUT, fontsize=10)
    _line(ax, [(0.2, 2.4), (2.5, 2.4)])                    # a<t-1> in
    _label(ax, 0.8, 2.85, _t("a", "t-1"))
    _line(ax, [(5.2, 0.1), (5.2, 1.9)])                    # x<t> in
    _label(ax, 5.75, 0.45, _t("x"))
    _line(ax, [(7.9, 2.4), (11.8, 2.4)])                   # a<t> out
    _label(ax, 11.2, 2.85, _t("a"))
    _line(ax, [(8.6, 2.4), (8.6, 3.85)])                   # a<t> up to the output layer
    _line(ax, [(8.6, 4.75), (8.6, 6.6)])                   # prediction out
    _label(ax, 9.2, 6.2, _t(r"\hat{y}"))
    _label(ax, 2.0, 5.0, "RNN cell", color="#56607a", fontsize=11, ha="left")
    return fig


def lstm_cell():
    """One step of an LSTM: forget, input (update) and output gates, candidate c~, cell-state line.

    Returns a matplotlib Figure.
    """
    fig, ax = _canvas(15, 9)
    _cell_frame(ax, 1.4, 0.7, 13.2, 7.7)
    y_c, y_bus, y_gate = 7.0, 1.6, 3.9
    gates = [(4.0, r"$\sigma$", "f"), (5.6, r"$\sigma$", "i"), (7.2, "tanh", r"\tilde{c}"), (9.4, r"$\sigma$", "o")]
    # Cell-state line: c<t-1> -> (x f) -> (+ i*c~) -> c<t>.
    _line(ax, [(0.1, y_c), (4.0 - R_NODE, y_c)])
    _label(ax, 0.7, y_c + 0.45, _t("c", "t-1"))
    _node(ax, 4.0, y_c, r"$\times$")
    _line(ax, [(4.0 + R_NODE, y_c), (6.4 - R_NODE, y_c)])
    _node(ax, 6.4, y_c, "+")
    _line(ax, [(6.4 + R_NODE, y_c), (14.9, y_c)])
    _label(ax, 14.3, y_c + 0.45, _t("c"))
    # Concatenated input [a<t-1>; x<t>] runs along a bus under the four gates.
    _line(ax, [(0.1, y_bus), (2.6, y_bus), (9.4, y_bus)], arrow=False)
    _label(ax, 0.7, y_bus + 0.45, _t("a", "t-1"))
    _line(ax, [(2.6, 0.0), (2.6, y_bus)])
    _label(ax, 3.1, 0.3, _t("x"))
    for x, act, name in gates:
        _line(ax, [(x, y_bus), (x, y_gate - 0.4)])
        _box(ax, x, y_gate, 1.2, 0.8, act, LINEAR if name == r"\tilde{c}" else GATE, fontsize=13)
    # Forget gate multiplies the old cell state.
    _line(ax, [(4.0, y_gate + 0.4), (4.0, y_c - R_NODE)])
    _label(ax, 3.5, 5.3, _t("f"))
    # Input gate times candidate, added to the cell state.
    _node(ax, 6.4, 5.5, r"$\times$")
    _line(ax, [(5.6, y_gate + 0.4), (5.6, 5.5), (6.4 - R_NODE, 5.5)])
    _label(ax, 5.15, 5.0, _t("i"))
    _line(ax, [(7.2, y_gate + 0.4), (7.2, 5.5), (6.4 + R_NODE, 5.5)])
    _label(ax, 7.75, 5.0, _t(r"\tilde{c}"))
    _line(ax, [(6.4, 5.5 + R_NODE), (6.4, y_c - R_NODE)])
    # Output gate times tanh(c<t>) gives a<t>.
    _line(ax, [(11.0, y_c), (11.0, 5.6 + 0.35)])
    _box(ax, 11.0, 5.6, 1.1, 0.7, "tanh", POINTWISE, fontsize=11)
    _node(ax, 11.0, y_gate, r"$\times$")
    _line(ax, [(11.0, 5.6 - 0.35), (11.0, y_gate + R_NODE)])
    _line(ax, [(9.4 + 0.6, y_gate), (11.0 - R_NODE, y_gate)])
    _label(ax, 10.3, y_gate + 0.45, _t("o"), fontsize=12)
    _line(ax, [(11.0, y_gate - R_NODE), (11.0, y_bus), (14.9, y_bus)])
    _label(ax, 14.3, y_bus + 0.45, _t("a"))
    # Prediction from a<t>.
    _line(ax, [(12.3, y_bus), (12.3, 2.8)])
    _box(ax, 12.3, 3.2, 1.5, 0.8, "softmax", OUTPUT, fontsize=10)
    _line(ax, [(12.3, 3.6), (12.3, 5.0), (14.9, 5.0)])
    _label(ax, 14.3, 5.45, _t(r"\hat{y}"))
    _label(ax, 1.7, 7.35, "LSTM cell", color="#56607a", fontsize=11, ha="left")
    return fig


def gru_cell():
    """One step of a GRU: relevance gate r, update gate u, candidate c~ and a<t> = u*c~ + (1-u)*a<t-1>.

    Returns a matplotlib Figure.
    """
    fig, ax = _canvas(15, 9)
    _cell_frame(ax, 1.0, 0.7, 13.0, 7.7)
    y_a, y_bus, y_gate = 7.0, 1.6, 3.2
    # Hidden-state line: a<t-1> -> (x (1-u)) -> (+ u*c~) -> a<t>.
    _line(ax, [(0.1, y_a), (9.0 - R_NODE, y_a)])
    _label(ax, 0.7, y_a + 0.45, _t("a", "t-1"))
    _node(ax, 9.0, y_a, r"$\times$")
    _line(ax, [(9.0 + R_NODE, y_a), (11.0 - R_NODE, y_a)])
    _node(ax, 11.0, y_a, "+")
    _line(ax, [(11.0 + R_NODE, y_a), (14.9, y_a)])
    _label(ax, 14.3, y_a + 0.45, _t("a"))
    # The gates read the concatenation [a<t-1>; x<t>].
    _line(ax, [(1.6, y_a), (1.6, y_bus), (10.0, y_bus)], arrow=False)
    _line(ax, [(2.5, 0.0), (2.5, y_bus)])
    _label(ax, 3.0, 0.3, _t("x"))
    for x, name in [(3.8, "r"), (10.0, "u")]:
        _line(ax, [(x, y_bus), (x, y_gate - 0.4)])
        _box(ax, x, y_gate, 1.2, 0.8, r"$\sigma$", GATE, fontsize=13)
        _label(ax, x - 0.9, y_gate, f"${name}$", fontsize=13)
    # Relevance gate scales a<t-1> before the candidate sees it.
    _node(ax, 3.8, 5.0, r"$\times$")
    _line(ax, [(3.8, y_gate + 0.4), (3.8, 5.0 - R_NODE)])
    _line(ax, [(3.8, y_a), (3.8, 5.0 + R_NODE)])
    _line(ax, [(3.8 + R_NODE, 5.0), (6.4, 5.0)])
    _label(ax, 5.1, 5.45, r"$r \odot a^{\langle t-1 \rangle}$", fontsize=11)
    _box(ax, 7.0, 5.0, 1.2, 0.8, "tanh", LINEAR, fontsize=13)
    _line(ax, [(7.0, 3.7), (7.0, 4.6)])
    _label(ax, 7.0, 3.35, _t("x"), fontsize=11)
    # Update gate: u times the candidate, (1 - u) times the old state.
    _node(ax, 11.0, 5.0, r"$\times$")
    _line(ax, [(7.6, 5.0), (11.0 - R_NODE, 5.0)])
    _label(ax, 8.1, 4.55, _t(r"\tilde{c}"), fontsize=12)
    _line(ax, [(10.0, y_gate + 0.4), (10.0, 4.1), (11.0, 4.1), (11.0, 5.0 - R_NODE)])
    _node(ax, 9.0, 6.0, r"$1-$", fontsize=9)
    _line(ax, [(10.0, 4.1), (9.0, 4.1), (9.0, 6.0 - R_NODE)])
    _line(ax, [(9.0, 6.0 + R_NODE), (9.0, y_a - R_NODE)])
    _line(ax, [(11.0, 5.0 + R_NODE), (11.0, y_a - R_NODE)])
    # Prediction from a<t>.
    _line(ax, [(12.2, y_a), (12.2, 4.1)])
    _box(ax, 12.2, 3.7, 1.5, 0.8, "softmax", OUTPUT, fontsize=10)
    _line(ax, [(12.2, 3.3), (12.2, 2.4), (14.9, 2.4)])
    _label(ax, 14.3, 2.85, _t(r"\hat{y}"))
    _label(ax, 1.3, 7.35, "GRU cell", color="#56607a", fontsize=11, ha="left")
    return fig


def unrolled_rnn(T_x=4, cell="RNN", show_gradients=False):
    """A recurrent network unrolled over ``T_x`` steps: one copy of the cell per step.

    T_x:            number of time steps drawn (1 to 8).
    cell:           "RNN" (one carried state a) or "LSTM" (carried a and c), written on the boxes.
    show_gradients: if True, also draw the backward pass in red: the upstream gradient da<t>
                    entering each step and the gradients carried from step t back to step t-1.
    Returns a matplotlib Figure.
    """
    if not 1 <= T_x <= 8:
        raise ValueError(f"T_x must be between 1 and 8, got {T_x}")
    if cell not in ("RNN", "LSTM"):
        raise ValueError(f"cell must be 'RNN' or 'LSTM', got {cell!r}")
    step, w, h, y = 3.4, 1.7, 1.6, 3.4
    width = 1.9 + step * T_x + 0.9
    fig, ax = _canvas(width, 7.8 if show_gradients else 7.0)
    carried = [("a", 0.0)] if cell == "RNN" else [("a", -0.4), ("c", 0.4)]
    for k in range(T_x):
        t = k + 1
        cx = 1.9 + step * k + w / 2 + 0.35
        _box(ax, cx, y, w, h, f"{cell}\ncell", LINEAR, fontsize=11)
        _line(ax, [(cx, 0.7), (cx, y - h / 2)])
        _label(ax, cx, 0.35, _t("x", t))
        _line(ax, [(cx, y + h / 2), (cx, 6.0)])
        _label(ax, cx, 6.45, _t(r"\hat{y}", t))
        for name, dy in carried:
            x0 = cx - w / 2 - (step - w) if k else 0.3
            _line(ax, [(x0, y + dy), (cx - w / 2, y + dy)])
            prev = t - 1
            _label(ax, x0 + 0.45 if k == 0 else (x0 + cx - w / 2) / 2, y + dy + 0.3, _t(name, prev),
                   fontsize=11)
            if show_gradients:
                gy = y + dy - 0.22
                _line(ax, [(cx - w / 2, gy), (x0, gy)], color=GRAD, style="--")
        if show_gradients:
            _line(ax, [(cx + 0.45, 6.0), (cx + 0.45, y + h / 2)], color=GRAD, style="--")
            _label(ax, cx + 0.55, 5.2, _t("da", t), color=GRAD, fontsize=11, ha="left")
    last = 1.9 + step * (T_x - 1) + w + 0.35
    for name, dy in carried:
        _line(ax, [(last, y + dy), (last + 0.8, y + dy)])
    if show_gradients:
        labels = ", ".join(f"d{name}" + r"$_{\rm prev}$" for name, _ in carried)
        _label(ax, 0.3, 7.45, f"red, dashed: gradients flowing back ({labels} carried from step t to t-1)",
               color=GRAD, fontsize=9, ha="left")
    return fig


def char_model(name="mei", sampling=False):
    """The character-level language model of dinosaur_island unrolled over one name.

    name:     the name drawn (lower case, 1 to 7 letters); it gives T_x = len(name) + 1 steps.
    sampling: False draws training: the input of each step is the previous letter (zeros first), and the
              target of each output is the next letter ("\\n" last). True draws sampling: a letter is drawn
              from each output's probabilities and fed back, dashed, as the next step's input, until "\\n".
    Returns a matplotlib Figure.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= 7 or not name.isalpha():
        raise ValueError(f"name must be 1 to 7 letters, got {name!r}")
    letters = list(name.lower()) + [r"\n"]
    T_x = len(letters)
    step, w, h, y = 2.6, 1.5, 1.3, 3.3
    width = 1.3 + step * T_x + 0.6
    fig, ax = _canvas(width, 7.4)
    for k in range(T_x):
        t = k + 1
        cx = 1.3 + step * k + w / 2
        _box(ax, cx, y, w, h, "RNN\ncell", LINEAR, fontsize=10)
        _box(ax, cx, 5.0, w * 0.9, 0.7, "softmax", OUTPUT, fontsize=9)
        _line(ax, [(cx, y + h / 2), (cx, 5.0 - 0.35)])
        _line(ax, [(cx, 5.35), (cx, 6.05)])
        shown = f'"{letters[k]}"' if letters[k] != r"\n" else r'"\n"'
        if sampling:
            _label(ax, cx, 6.45, f"draw {shown}", fontsize=10)
        else:
            _label(ax, cx, 6.45, f"target {shown}", fontsize=10)
        x_in = "zeros" if k == 0 else f'"{letters[k - 1]}"'
        _line(ax, [(cx, 1.05), (cx, y - h / 2)])
        _label(ax, cx, 0.7, x_in, fontsize=10)
        x0 = cx - w / 2 - (step - w) if k else 0.2
        _line(ax, [(x0, y), (cx - w / 2, y)])
        _label(ax, (x0 + cx - w / 2) / 2, y + 0.3, _t("a", t - 1), fontsize=10)
        if sampling and k + 1 < T_x:
            nx = cx + step
            down = cx + w / 2 + 0.2                   # just right of the cell, clear of the a<t> label
            _line(ax, [(cx + 0.5, 6.05), (down, 6.05), (down, 0.7), (nx - 0.55, 0.7)], color=GRAD, style="--")
    title = ("sampling: each drawn letter becomes the next input (red, dashed) until the newline"
             if sampling else "training: the input is the previous letter, the target the next one")
    _label(ax, 0.2, 7.15, title, fontsize=10, ha="left")
    return fig
