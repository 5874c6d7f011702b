"""numba's cache is keyed on a kernel's own file: forget_stale() must catch edits to the files it calls."""

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from arplayground.kernels import cache as kernel_cache

REPO = Path(__file__).resolve().parents[2]

CALLER = """
from numba import njit
import callee

@njit(cache=True)
def answer():
    return callee.value()
"""


def _write_package(folder: Path, value: int, guarded: bool) -> None:
    (folder / "callee.py").write_text(textwrap.dedent(f"""
        from numba import njit

        @njit(cache=True)
        def value():
            return {value}
    """))
    caller = CALLER
    if guarded:
        caller += ("\nfrom arplayground.kernels.cache import forget_stale\n"
                   "forget_stale(globals(), (callee.__file__, __file__))\n")
    (folder / "caller.py").write_text(caller)


def _answer(folder: Path) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), str(REPO)]))
    env.pop("NUMBA_DISABLE_JIT", None)
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", "import caller; print(caller.answer())"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_an_edit_to_a_called_file_recompiles_the_caller(tmp_path):
    _write_package(tmp_path, 1, guarded=True)
    assert _answer(tmp_path) == 1
    assert list((tmp_path / "__pycache__").glob("caller.*.nbi")), "the first run cached the caller"
    _write_package(tmp_path, 22, guarded=True)  # the caller's own file is written again unchanged
    assert _answer(tmp_path) == 22
    assert _answer(tmp_path) == 22  # and the fresh code is what is cached now


def test_unchanged_sources_keep_the_cache(tmp_path):
    _write_package(tmp_path, 5, guarded=True)
    assert _answer(tmp_path) == 5
    stamp = tmp_path / "__pycache__" / "caller.sources"
    index = next((tmp_path / "__pycache__").glob("caller.answer-*.nbi"))
    before = (stamp.read_text(), index.stat().st_mtime_ns)
    assert _answer(tmp_path) == 5
    assert (stamp.read_text(), index.stat().st_mtime_ns) == before, "loaded from the cache, not compiled again"


def _imported_files(path: Path) -> set[Path]:
    """The files of the arplayground modules that a module's source imports from, by its import statements."""
    files = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names += [f"{node.module}.{alias.name}" for alias in node.names]  # from package import module
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name.startswith("arplayground."):
                base = REPO.joinpath(*name.split("."))
                files |= {f for f in (base.with_suffix(".py"), base / "__init__.py") if f.is_file()}
    return files


def test_the_app_kernels_fingerprint_every_file_they_take_code_from():
    """Every module that compiles a kernel is fingerprinted, and so is every arplayground file it
    imports from (a callee's code or a constant numba freezes in), cache.py itself aside."""
    sources = {Path(p).resolve() for p in kernel_cache.KERNEL_SOURCES}
    assert all(p.is_file() for p in sources)
    kernels = REPO / "arplayground" / "kernels"
    compiled = {p for p in kernels.glob("*.py") if re.search(r"^@njit\b", p.read_text(), re.MULTILINE)}
    assert {p.name for p in compiled} == {"fast_math.py", "sampling.py", "pixelcnn.py", "wavenet.py", "gpt.py"}
    taken_from = set().union(*(_imported_files(p) for p in compiled)) - {kernels / "cache.py"}
    assert REPO / "arplayground" / "core" / "sampling.py" in taken_from  # GREEDY_BELOW
    assert compiled | taken_from == sources
