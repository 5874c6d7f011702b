"""The decoding lab: ways of decoding text other than drawing one sample at a time, each in a tab
of one window, run on the text model the main window has chosen, from its prompt.

Each tab is a QWidget class listed in TABS, built as Tab(window) with the main window, from which
it reads what a run reads (the text model, its vocabulary, the prompt, the seed, the sampler's
settings); each runs its own work off the GUI thread, on its own copy of the model, and stops it
in shutdown(). A tab has a `title` (its tab's label) and `shutdown()`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from arplayground.gui.beam_tab import BeamTab
from arplayground.gui.speculative_tab import SpeculativeTab

# The tab classes, in the order shown. A decoding method adds its class here (its own module).
TABS: list[type] = [SpeculativeTab, BeamTab]


class DecodingLab(QWidget):
    """One window holding a tab per decoding method."""

    def __init__(self, window):
        super().__init__()
        self.setWindowTitle("Decoding lab")
        self.window = window
        self.tabs = QTabWidget()
        self.pages = [tab(window) for tab in TABS]
        for page in self.pages:
            page.setParent(self)  # dies with the lab
            self.tabs.addTab(page, page.title)
        layout = QVBoxLayout(self)
        if not self.pages:
            layout.addWidget(QLabel("No decoding methods are installed."))
        layout.addWidget(self.tabs)
        self.resize(1100, 760)

    def page(self, title: str):
        """The tab of that title (tests and the window pick one)."""
        for page in self.pages:
            if page.title == title:
                return page
        raise KeyError(title)

    def show_page(self, title: str) -> None:
        self.tabs.setCurrentWidget(self.page(title))

    def closeEvent(self, event) -> None:
        for page in self.pages:
            page.shutdown()  # no thread outlives the window
        super().closeEvent(event)
