"""Layering at run time: nothing outside gui/ (core, kernels, nets, audio, train, catalog) imports Qt.

The import-linter contracts in pyproject.toml say the same from the source; this imports every module
for real, so it also catches an import made by a dependency or by name (importlib)."""

import subprocess
import sys


def test_core_nets_train_catalog_import_without_qt():
    code = (
        "import sys\n"
        "import pkgutil, importlib, arplayground\n"
        "for m in pkgutil.walk_packages(arplayground.__path__, 'arplayground.'):\n"
        "    if not m.name.startswith('arplayground.gui') and m.name != 'arplayground.__main__':\n"
        "        importlib.import_module(m.name)\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'superqt'))\n"
        "print(qt)\n"
        "sys.exit(1 if qt else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"Qt imported below gui/: {result.stdout} {result.stderr}"
