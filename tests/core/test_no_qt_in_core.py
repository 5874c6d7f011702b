"""Layering: the core, the networks, training and the catalog never import Qt."""

import subprocess
import sys


def test_core_nets_train_catalog_import_without_qt():
    code = (
        "import sys\n"
        "import arplayground.core.generate, arplayground.core.sampling, arplayground.core.trace\n"
        "import arplayground.nets.gpt, arplayground.catalog, arplayground.train.text\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'superqt'))\n"
        "print(qt)\n"
        "sys.exit(1 if qt else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"Qt imported below gui/: {result.stdout} {result.stderr}"
