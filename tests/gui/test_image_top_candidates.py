"""Image mode shows a step of a trace saved with its top candidates only (no full distributions)."""

from arplayground.core.trace import Trace
from tests.gui.helpers import generate_and_wait, open_window


def test_a_pixel_of_a_trace_without_full_distributions_shows_its_top_candidates(qtbot, tiny_image_models):
    w = open_window(qtbot, tiny_image_models, "image")
    view = w.views["image"]
    generate_and_wait(qtbot, w)
    doc = w.trace.to_dict()
    for name in ("raw", "unconditional"):  # as a trace was saved before traces kept them
        doc["columns"].pop(name, None)
    doc.pop("full_from", None)
    old = Trace.from_dict(doc)
    assert old.distributions(5) is None
    view.show_in_panel(w.panel, old, 5, w.vocab)
    assert w.panel.title.text().startswith("pixel (0, 5), step 6")
    assert w.panel.data.values == tuple(int(v) for v in old[5].top_values)  # the candidates it recorded
    assert w.panel.data.labels[0] == w.vocab.bar_label(int(old[5].top_values[0]))
    assert view.canvas.selected == (0, 5)
    w.close()
