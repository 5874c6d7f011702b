"""What the benchmark scripts share: which checkout they measure, and writing their own section of
docs/benchmarks.md (--write-docs), so that the tables there are the ones a script last printed,
with the command, the machine, the commit and the date they came from.

A section lies between two marker lines, `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; a
script replaces what is between its own pair (the markers stay) and leaves the rest of the file
as it was. The file is written whole to a temporary file beside it and renamed over it, under a
lock on the docs folder, so two scripts writing at once each keep their section.

This module imports nothing from arplayground: it must work beside any checkout's code.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
NAME = re.compile(r"[a-z0-9_][a-z0-9_.-]*\Z")


def use_checkout() -> None:
    """Import arplayground from the working folder, unless PYTHONPATH names a folder that holds it:
    not from wherever the environment's editable install points. Call before importing it.

    Running `python benchmarks/x.py` puts benchmarks/ first on sys.path, not the working folder,
    so without this a shared .venv would measure the checkout it was installed from."""
    for folder in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if folder and (Path(folder) / "arplayground" / "__init__.py").is_file():
            return  # already ahead of site-packages, and the caller's choice
    cwd = os.getcwd()
    if (Path(cwd) / "arplayground" / "__init__.py").is_file() and cwd not in sys.path:
        sys.path.insert(1, cwd)  # after the script's own folder (gui_latency, report), before site-packages


def measured_checkout() -> Path | None:
    """The folder holding the arplayground package imported (after use_checkout()), or None."""
    try:
        import arplayground
    except ImportError:
        return None
    return Path(arplayground.__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- the machine


def cpu_summary(cpuinfo: str | None = None, cores: int | None = None) -> str:
    """'AMD EPYC (family 25, model 1), 2 cores: AVX2, AVX-512, AVX-512 BF16, no AMX', from
    /proc/cpuinfo (or the text given); the flags are those that decide the kernels' and torch's
    speed here."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())  # every core repeats its block: the first is enough
    name = fields.get("model name") or platform.processor() or platform.machine() or "unknown CPU"
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)
    flags = set(fields.get("flags", "").split())
    if not flags:
        return f"{name}, {cores} cores (no CPU flags readable)"
    has = [label for flag, label in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX-512 BF16"),
                                     ("amx_bf16", "AMX BF16")) if flag in flags]
    lacks = [label for flag, label in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "bf16"),
                                       ("amx_tile", "AMX")) if flag not in flags and not (label == "bf16" and "amx_bf16" in flags)]
    return f"{name}, {cores} cores: " + ", ".join(has + [f"no {label}" for label in lacks])


def commit_of(folder: Path | None) -> str:
    """The commit checked out in `folder`, with '+ uncommitted changes' where what is measured
    differs from it (the package, the scripts, the weights; not the docs, which a run writes), or
    'not a git checkout'."""
    if folder is None:
        return "unknown"

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--", "arplayground", "benchmarks", "models", "pyproject.toml")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return head + (" + uncommitted changes" if dirty else "")


def command_line(script: str, argv: list[str], gui: bool) -> str:
    """The command that measures this again from the repository's root, --write-docs left out."""
    args = [a for a in argv if a != "--write-docs"]
    env = "QT_QPA_PLATFORM=offscreen " if gui else ""
    return env + shlex.join([".venv/bin/python", f"benchmarks/{script}", *args])


# ----------------------------------------------------------------------------- sections


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def replace_section(text: str, name: str, body: str) -> str:
    """`text` with what lies between NAME's marker lines replaced by `body` (the markers kept);
    a section not there yet is added at the end. ValueError for markers out of order or repeated."""
    if not NAME.match(name):
        raise ValueError(f"a section's name is lower-case letters, digits, '_', '.' and '-', not {name!r}")
    start, end = markers(name)
    lines = text.splitlines(keepends=True)
    opens = [i for i, line in enumerate(lines) if line.strip() == start]
    closes = [i for i, line in enumerate(lines) if line.strip() == end]
    body = body.rstrip("\n") + "\n\n"  # a blank line: a table ends before the closing marker
    if not opens and not closes:
        tail = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{tail}\n{start}\n{body}{end}\n"
    if len(opens) != 1 or len(closes) != 1 or closes[0] < opens[0]:
        raise ValueError(f"docs: the section {name!r} needs one {start} line and, after it, one {end} line "
                         f"(found {len(opens)} and {len(closes)})")
    return "".join(lines[: opens[0] + 1]) + body + "".join(lines[closes[0] :])


def as_markdown(printed: str) -> str:
    """A script's printout as markdown: tables set apart by blank lines (a table run on from a
    line of text is not one), trailing spaces and runs of blank lines dropped."""
    out: list[str] = []
    for line in printed.splitlines():
        line = line.rstrip()
        in_table = line.startswith("|")
        if out and out[-1] and (in_table != out[-1].startswith("|")) and line:
            out.append("")
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def section_body(script: str, printed: str, *, command: str, machine: str, commit: str, when: str,
                 load: str) -> str:
    return "\n".join([
        f"<!-- written by benchmarks/{script} --write-docs: change the script, not this section -->",
        "",
        f"```sh\n{command}\n```",
        "",
        f"Measured on {machine}; {load}; commit {commit}; {when}.",
        "",
        as_markdown(printed),
    ])


def write_section(name: str, body: str, docs: Path = DOCS) -> None:
    """Replace section `name` of `docs` atomically: a temporary file beside it, renamed over it,
    under an exclusive lock on the folder (every writer takes it), so nothing reading or writing
    the file at the same moment sees half of one or loses another's section."""
    folder = docs.parent
    lock = os.open(folder, os.O_RDONLY)
    try:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # no flock (Windows): the rename alone still keeps the file whole
            pass
        try:
            text = docs.read_text(encoding="utf-8")
            mode = os.stat(docs).st_mode & 0o777
        except FileNotFoundError:
            text, mode = "", 0o644
        new = replace_section(text, name, body)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{docs.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as f:
                f.write(new)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, docs)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    finally:
        os.close(lock)  # releases the lock


class _Tee(io.TextIOBase):
    """stdout as it was, and a copy of everything written to it."""

    def __init__(self, stream):
        self.stream, self.copy = stream, io.StringIO()

    def write(self, s: str) -> int:
        self.copy.write(s)
        return self.stream.write(s)

    def flush(self) -> None:
        self.stream.flush()


def add_argument(parser) -> None:
    parser.add_argument("--write-docs", action="store_true",
                        help="also write what this prints into its own section of docs/benchmarks.md, "
                             "with the command, the machine, the commit and the date")


@contextlib.contextmanager
def docs_section(script_file: str, enabled: bool, *, variant: str | None = None, gui: bool = False,
                 docs: Path = DOCS):
    """Print as usual inside; when enabled and the body ran to its end, what it printed becomes
    the section named after the script (and `variant`, for options that measure something else,
    like guidance) in docs/benchmarks.md. A run that fails or is interrupted writes nothing."""
    script = Path(script_file).name
    name = Path(script).stem + (f".{variant}" if variant else "")
    if not enabled:
        yield
        return
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = (f"load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg")
            else "load average unknown")
    tee = _Tee(sys.stdout)
    sys.stdout = tee
    try:
        yield
    finally:
        sys.stdout = tee.stream
    measured = measured_checkout()
    commit = commit_of(measured)
    if measured is not None and measured != docs.resolve().parent.parent:
        commit += f" of the checkout in {measured}"  # another checkout's code, measured by this one's script
    body = section_body(script, tee.copy.getvalue(), command=command_line(script, sys.argv[1:], gui),
                        machine=cpu_summary(), commit=commit, when=when, load=load)
    write_section(name, body, docs)
    print(f"(written to {docs}, section {name})", file=sys.stderr)
