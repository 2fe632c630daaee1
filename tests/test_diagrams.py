"""Each drawing in utils.diagrams builds a Figure under the Agg backend without error."""
import matplotlib

matplotlib.use("Agg")

import io  # noqa: E402

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from utils import diagrams  # noqa: E402

DRAWINGS = {
    "rnn_cell": lambda: diagrams.rnn_cell(),
    "lstm_cell": lambda: diagrams.lstm_cell(),
    "gru_cell": lambda: diagrams.gru_cell(),
    "unrolled_rnn": lambda: diagrams.unrolled_rnn(),
    "unrolled_lstm_gradients": lambda: diagrams.unrolled_rnn(3, cell="LSTM", show_gradients=True),
    "unrolled_one_step": lambda: diagrams.unrolled_rnn(1),
    "char_model_training": lambda: diagrams.char_model("mei"),
    "char_model_sampling": lambda: diagrams.char_model("rex", sampling=True),
}


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_drawing_returns_a_figure_that_renders(name):
    fig = DRAWINGS[name]()
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue().startswith(b"\x89PNG")


@pytest.mark.parametrize("kwargs", [{"T_x": 0}, {"T_x": 9}, {"cell": "GRU"}])
def test_unrolled_rnn_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        diagrams.unrolled_rnn(**kwargs)


@pytest.mark.parametrize("name", ["", "tyrannos", "t-rex", 7])
def test_char_model_rejects_bad_names(name):
    with pytest.raises(ValueError):
        diagrams.char_model(name)
