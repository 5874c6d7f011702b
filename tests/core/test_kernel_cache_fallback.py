"""Image and Audio work where numba cannot write its cache beside the kernels (a read-only install)
or in the user's home: the kernels are cached elsewhere, or compiled afresh with a note.

The tests run as root, whom file modes do not stop, so "read-only" is made the way it fails for
root too: a regular file stands where a cache folder would have to be made."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from arplayground.kernels.cache import choose_cache_folder, user_cache_folder, writable

REPO = Path(__file__).resolve().parents[2]

# A tiny WaveNet and PixelCNN, each taking a step through its compiled kernels.
KERNEL_CALLS = textwrap.dedent("""
    import os
    import sys
    import numpy as np
    import torch
    from arplayground.core.vocab import GreyLevels, MuLawLevels
    from arplayground.kernels import cache as kernel_cache
    from arplayground.kernels.cache import compiled_on_disk
    from arplayground.nets.pixelcnn import PixelCNN, PixelCNNConfig, PixelCNNStepper
    from arplayground.nets.wavenet import FastWaveNetStepper, WaveNet, WaveNetConfig
    from arplayground.kernels import wavenet as wavenet_kernels

    torch.manual_seed(0)
    loaded = compiled_on_disk(wavenet_kernels.network_step)
    audio = FastWaveNetStepper(WaveNet(WaveNetConfig(residual=4, skip=4, cycle=2, n_cycles=1, n_digits=10,
                                                     n_speakers=2)), MuLawLevels())
    audio.reset([], (1, 0))
    audio.push(int(np.argmax(audio.logits())))
    image = PixelCNNStepper(PixelCNN(PixelCNNConfig(channels=4, n_layers=2, kernel=3, first_kernel=3,
                                                    height=4, width=4)), GreyLevels())
    image.reset([], 3)
    for _ in range(5):
        image.push(int(np.argmax(image.logits())))
    assert np.isfinite(audio.logits()).all() and np.isfinite(image.logits()).all()
    print("note:", kernel_cache.CACHE_NOTE)
    print("cache:", os.environ.get("NUMBA_CACHE_DIR"))
    print("loaded from the cache:", loaded)
""")


def read_only_install(tmp_path: Path) -> Path:
    """A copy of the package whose kernels/__pycache__ cannot be made: a file has its name."""
    root = tmp_path / "install"
    shutil.copytree(REPO / "arplayground", root / "arplayground", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "arplayground" / "kernels" / "__pycache__").write_text("a file, where numba would make a folder")
    return root


def run_kernels(root: Path, home: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root), HOME=str(home))
    for name in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "NUMBA_DISABLE_JIT"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", KERNEL_CALLS], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)


def test_with_no_writable_cache_anywhere_the_kernels_run_uncached_with_a_note(tmp_path):
    root = read_only_install(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".cache").write_text("a file: neither numba's nor our per-user cache folder can be made")
    said = run_kernels(root, home)
    package_cache = root / "arplayground" / "kernels" / "__pycache__"
    assert said["note"].startswith(f"compiled kernels are not cached: {package_cache} and ")
    assert "read-only" in said["note"]
    assert Path(said["cache"]).name.startswith("arplayground-numba-")
    assert not Path(said["cache"]).exists(), "the temporary cache is removed at exit"


def test_with_a_read_only_install_the_kernels_are_cached_per_user_and_loaded_next_time(tmp_path):
    root = read_only_install(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    first = run_kernels(root, home)
    assert first["note"] == "None" and first["loaded from the cache"] == "False"
    assert first["cache"] == str(home / ".cache" / "arplayground" / "numba")
    assert list((home / ".cache" / "arplayground" / "numba").rglob("wavenet.network_step-*.nbi"))
    again = run_kernels(root, home)
    assert again["loaded from the cache"] == "True"


def test_a_writable_package_cache_or_a_chosen_numba_cache_dir_is_left_alone(tmp_path):
    environ = {}
    assert choose_cache_folder(environ, tmp_path / "pkg", can_write=lambda folder: True) is None
    assert environ == {}
    environ = {"NUMBA_CACHE_DIR": "/somewhere/chosen"}
    assert choose_cache_folder(environ, tmp_path / "pkg", can_write=lambda folder: False) is None
    assert environ == {"NUMBA_CACHE_DIR": "/somewhere/chosen"}


def test_the_per_user_folder_follows_xdg_then_home(tmp_path):
    assert user_cache_folder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "arplayground" / "numba"
    home_based = Path(os.path.expanduser("~")) / ".cache" / "arplayground" / "numba"
    assert user_cache_folder({"XDG_CACHE_HOME": "relative/path"}) == home_based  # the spec ignores a relative one
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    assert choose_cache_folder(environ, tmp_path / "pkg", can_write=lambda folder: folder != tmp_path / "pkg") is None
    assert environ["NUMBA_CACHE_DIR"] == str(tmp_path / "arplayground" / "numba")


def test_with_nothing_writable_a_fresh_temporary_folder_is_used_and_the_note_names_both_folders(tmp_path):
    environ = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    note = choose_cache_folder(environ, tmp_path / "pkg", can_write=lambda folder: False)
    try:
        assert note == (f"compiled kernels are not cached: {tmp_path / 'pkg'} and {tmp_path / 'xdg' / 'arplayground' / 'numba'} "
                        "are read-only, so Image and Audio compile them again at every start")
        chosen = Path(environ["NUMBA_CACHE_DIR"])
        assert chosen.is_dir() and chosen.name.startswith("arplayground-numba-") and writable(chosen)
    finally:
        shutil.rmtree(environ["NUMBA_CACHE_DIR"], ignore_errors=True)


def test_writable_is_numbas_own_test(tmp_path):
    assert writable(tmp_path / "new" / "folder")
    (tmp_path / "file").write_text("")
    assert not writable(tmp_path / "file" / "cache")  # under a regular file: no folder can be made
    assert not writable(tmp_path / "file")
    assert not writable(Path("/proc/arplayground-cache"))  # /proc refuses new entries, even to root

