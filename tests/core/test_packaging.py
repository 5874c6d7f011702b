"""The package as a user installs it: a wheel carries the bundled models and finds them from any
folder, and `arplayground` (window, score, sample) runs from the install alone.

The wheel check builds the wheel from a copy of the sources in a temporary folder, installs it
into a fresh virtual environment that borrows this one's installed dependencies (torch among
them: nothing is downloaded, so no CUDA build can come in), and runs it from another folder. It
needs setuptools here; without it the check is skipped, except under .ci/run, which sets
ARPLAYGROUND_PACKAGING_CHECK=1 so that CI always runs it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import pytest

from arplayground import catalog

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "arplayground", "models")  # what the wheel is built from
BUNDLED = sorted(p.stem for p in (ROOT / "models").glob("*.json"))


def test_the_package_list_names_every_package_folder_and_the_models():
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "arplayground").rglob("__init__.py")}
    assert set(listed["packages"]) == folders | {"arplayground.models"}
    assert listed["package-dir"] == {"arplayground.models": "models"}  # the one copy of the weights
    assert set(listed["package-data"]["arplayground.models"]) == {"*.json", "*.safetensors"}


def fake_package(tmp_path, installed: bool, beside: bool) -> Path:
    """A catalog.py in a package folder, with models/ inside it (installed) and/or beside it."""
    package = tmp_path / "site" / "arplayground"
    package.mkdir(parents=True)
    if installed:
        (package / "models").mkdir()
    if beside:
        (tmp_path / "site" / "models").mkdir()
    return package / "catalog.py"


@pytest.mark.parametrize("installed, beside, found", [
    (True, True, "site/arplayground/models"),  # an install: never another distribution's models/ beside it
    (True, False, "site/arplayground/models"),
    (False, True, "site/models"),  # a source checkout, an editable install
    (False, False, "models"),  # neither: ./models
])
def test_the_default_models_folder_is_the_installed_one_then_the_checkouts(tmp_path, monkeypatch, installed, beside, found):
    monkeypatch.delenv("ARPLAYGROUND_MODELS", raising=False)
    monkeypatch.setattr(catalog, "__file__", str(fake_package(tmp_path, installed, beside)))
    expected = tmp_path / found if found != "models" else Path("models")
    assert catalog.default_models_dir() == expected
    monkeypatch.setenv("ARPLAYGROUND_MODELS", str(tmp_path / "mine"))
    assert catalog.default_models_dir() == tmp_path / "mine"  # the user's choice first, always


def build_tools() -> str | None:
    """Why the wheel cannot be built here (None: it can): setuptools able to write a wheel."""
    if importlib.util.find_spec("setuptools") is None:
        return "setuptools is not installed"
    import setuptools

    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    if (major, minor) < (70, 1) and importlib.util.find_spec("wheel") is None:  # bdist_wheel moved into setuptools in 70.1
        return f"setuptools {setuptools.__version__} needs the wheel package to build a wheel"
    return None


def run(argv, cwd, env, transcript: list, timeout: int = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    shown = " ".join(Path(str(a)).name if i == 0 else str(a) for i, a in enumerate(argv))
    transcript.append(f"$ {shown}\n{done.stdout}{done.stderr}".rstrip())
    assert done.returncode == 0, transcript[-1]
    return done


CHECK = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import arplayground, torch
    from arplayground import catalog
    root = Path(sys.prefix).resolve()
    package = Path(arplayground.__file__).resolve().parent
    assert root in package.parents, f"arplayground imported from {package}, not the fresh environment"
    folder = catalog.default_models_dir()
    assert folder.resolve() == package / "models", folder
    entries = catalog.discover()
    for e in entries:
        assert e.available, (e.name, e.error)
        stepper = catalog.load_stepper(e)
        print(f"loaded {e.name} ({e.mode}, {e.parameters:,} parameters) from {e.card_path.relative_to(root)}")
    # The window, as `arplayground` opens it with no options: the installed models listed
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication
    from arplayground.gui.main_window import MainWindow
    app = QApplication([])
    window = MainWindow(None)
    print("the window lists", ", ".join(e.name for e in window.entries if e.available))
    listed = sorted(e.name for e in window.entries if e.available)
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    print(json.dumps({"torch": torch.__version__, "models": sorted(e.name for e in entries), "window": listed}))
""")


def test_the_wheel_installed_in_a_fresh_environment_carries_the_models_and_runs_from_another_folder(tmp_path, tiny_models):
    missing = build_tools()
    if missing is not None:
        if os.environ.get("ARPLAYGROUND_PACKAGING_CHECK") == "1":
            pytest.fail(f"the wheel check must run here (ARPLAYGROUND_PACKAGING_CHECK=1), but {missing}")
        pytest.skip(f"cannot build the wheel: {missing}")
    transcript: list[str] = []
    source = tmp_path / "source"  # a copy: the build's own folders (build/, *.egg-info) stay out of the work tree
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ARPLAYGROUND_MODELS", "PYTHONHOME")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PIP_NO_INDEX"] = "1"  # nothing downloaded: what the wheel needs must already be here
    run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist"],
        tmp_path, env, transcript)
    (wheel,) = (tmp_path / "dist").glob("arplayground-*.whl")
    transcript.append(f"built {wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB")

    fresh = tmp_path / "fresh"
    run([sys.executable, "-m", "venv", "--without-pip", fresh], tmp_path, env, transcript)
    python = fresh / "bin" / "python"
    fresh_site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     capture_output=True, text=True, check=True, env=env).stdout.strip())
    # The dependencies this environment has (torch, PySide6, numba, ...) for the fresh one to use: a
    # path file adds the folders and nothing more (their own .pth files, such as an editable
    # install's of this work tree, are not run), so arplayground can only come from the wheel.
    borrowed = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (fresh_site / "borrowed-dependencies.pth").write_text("\n".join(borrowed) + "\n")
    # The wheel's dependencies are resolved against those; with no index, any missing one fails here.
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", wheel], tmp_path, env, transcript)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "check_install.py").write_text(CHECK)
    done = run([python, tmp_path / "check_install.py"], elsewhere, env, transcript)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["models"] == summary["window"] == sorted(BUNDLED)
    assert "+cu" not in summary["torch"]
    app = fresh / "bin" / "arplayground"
    assert "arplayground sample" in run([app, "--help"], elsewhere, env, transcript).stdout
    for mode, argv in (("text", ["--prompt", "ROMEO:", "--length", 60]), ("image", ["--digit", 3, "--guidance", 2]),
                       ("audio", ["--digit", 4, "--length", 0.3])):
        out = elsewhere / f"sample{catalog_suffix(mode)}"
        run([app, "sample", "--mode", mode, *argv, "--out", out.name], elsewhere, env, transcript)
        assert out.stat().st_size > 0
    transcript.append(f"$ cat sample.txt\n{(elsewhere / 'sample.txt').read_text()}")
    # The user's own folder still comes first: by the variable, and by --models
    with_variable = {**env, "ARPLAYGROUND_MODELS": str(tiny_models)}
    names = run([python, "-c", "from arplayground import catalog; print([e.name for e in catalog.discover()])"],
                elsewhere, with_variable, transcript).stdout
    assert names.strip() == "['tiny-gpt']"
    said = run([app, "sample", "--mode", "text", "--models", tiny_models, "--length", 5, "--out", "tiny.txt"],
               elsewhere, env, transcript).stdout
    assert "from tiny-gpt" in said
    print("\n".join(transcript))  # the check's output, for the record (pytest -s shows it)


def catalog_suffix(mode: str) -> str:
    return {"text": ".txt", "image": ".png", "audio": ".wav"}[mode]
