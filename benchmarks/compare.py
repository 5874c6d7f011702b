"""Run one benchmark in two checkouts back to back and print its tables side by side, each number
as old -> new with the ratio new / old.

    OLD=/tmp/old NEW=. .venv/bin/python benchmarks/compare.py image_speed -- --repeats 2
    .venv/bin/python benchmarks/compare.py --old /tmp/old --new . --rounds 3 text_speed -- --gui-seconds 4

Each checkout runs in its own process, from its own folder, with PYTHONPATH set to it, so its
arplayground is the one imported, whatever the environment's editable install points at. By
default each runs its own copy of the script (the one written for its code); --script-from new
runs the new checkout's script in both (an older checkout without it, or to hold the script
fixed). With --rounds N the two alternate N times (old, new, old, new, ...), so that a machine
getting busier weighs on both, and each number shown is the median of its N runs.

Rows are matched by their table's header and their first cell (else by their place in the
table); a cell that is a number in both (thousands separators, units and "x" allowed; "14.3 at
0.08" counts as 14.3) shows the two and their ratio, any other cell both texts where they differ.
Machines here are shared: a ratio within one round means more than one across sittings.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

NUMBER = re.compile(r"^\s*\**([-+]?\d[\d,]*(?:\.\d+)?)(?:\s*(?:x|%|ms|s|us|chars|pixels|samples|MiB))?\**(\s|$)")


def number(cell: str) -> float | None:
    """The number a cell starts with ('1,342 chars' -> 1342.0, '34.8x' -> 34.8), or None."""
    match = NUMBER.match(cell)
    return float(match.group(1).replace(",", "")) if match else None


def tables(printed: str) -> list[tuple[str, list[list[str]]]]:
    """The markdown tables in a script's printout: (header line, rows as lists of cells)."""
    found, lines = [], printed.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|\s*$", lines[i + 1]):
            header, rows = lines[i].strip(), []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([cell.strip() for cell in lines[i].strip().strip("|").split("|")])
                i += 1
            found.append((header, rows))
        else:
            i += 1
    return found


def text_lines(printed: str) -> list[str]:
    """The printout's lines outside tables that hold a number: summaries like 'median ratio 127.5x'."""
    return [line for line in printed.splitlines() if line.strip() and not line.startswith("|") and re.search(r"\d", line)]


def median_cell(cells: list[str]) -> str:
    """One cell from the same cell of several runs: the median where all are numbers, else the first."""
    values = [number(c) for c in cells]
    if len(cells) == 1 or any(v is None for v in values):
        return cells[0]
    m = statistics.median(values)
    return f"{m:,.3g}" if abs(m) < 100 else f"{m:,.0f}"


def merge_runs(runs: list[str]) -> list[tuple[str, list[list[str]]]]:
    """The tables of several runs of one checkout, cell by cell medians (where their shapes agree)."""
    per_run = [tables(r) for r in runs]
    merged = []
    for t, (header, rows) in enumerate(per_run[0]):
        same = [p[t] for p in per_run if len(p) > t and p[t][0] == header and len(p[t][1]) == len(rows)]
        merged.append((header, [[median_cell([s[1][r][c] for s in same if c < len(s[1][r])]) for c in range(len(row))]
                                for r, row in enumerate(rows)]))
    return merged


def side_by_side(old: list[tuple[str, list[list[str]]]], new: list[tuple[str, list[list[str]]]]) -> str:
    out = []
    unmatched_new = list(range(len(new)))
    for header, old_rows in old:
        match = next((j for j in unmatched_new if new[j][0] == header), None)
        if match is None:
            out.append(f"{header}\n(only in the old checkout's output)\n")
            continue
        unmatched_new.remove(match)
        new_rows = new[match][1]
        by_key = {row[0]: row for row in new_rows if row}
        unique_keys = len(by_key) == len(new_rows) and len({r[0] for r in old_rows if r}) == len(old_rows)
        lines = [header, "|" + "---|" * (header.count("|") - 1)]
        for r, old_row in enumerate(old_rows):
            new_row = by_key.get(old_row[0]) if unique_keys else (new_rows[r] if r < len(new_rows) else None)
            if new_row is None:
                lines.append("| " + " | ".join(old_row) + " | (old only)")
                continue
            cells = []
            for c in range(max(len(old_row), len(new_row))):
                a, b = (old_row[c] if c < len(old_row) else ""), (new_row[c] if c < len(new_row) else "")
                x, y = number(a), number(b)
                if c == 0 or a == b:
                    cells.append(a if a == b else f"{a} / {b}")
                elif x is not None and y is not None:
                    ratio = f"{y / x:.2f}x" if x else "-"
                    cells.append(f"{a} → {b} ({ratio})")
                else:
                    cells.append(f"{a} / {b}")
            lines.append("| " + " | ".join(cells) + " |")
        out.append("\n".join(lines) + "\n")
    for j in unmatched_new:
        out.append(f"{new[j][0]}\n(only in the new checkout's output)\n")
    return "\n".join(out)


def run(checkout: Path, script: Path, args: list[str], python: str) -> str:
    """One run of `script` measuring `checkout`: its printout (its errors go to ours)."""
    env = dict(os.environ, PYTHONPATH=str(checkout), QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    imported = subprocess.run([python, "-c", "import arplayground; print(arplayground.__file__)"], cwd=checkout, env=env,
                              capture_output=True, text=True)
    where = Path(imported.stdout.strip() or "?").resolve()
    if imported.returncode or checkout.resolve() not in where.parents:
        raise SystemExit(f"{checkout}: arplayground is imported from {where}, not from this checkout "
                         f"({imported.stderr.strip().splitlines()[-1:] or ''})")
    print(f"running {script} in {checkout} ...", file=sys.stderr, flush=True)
    done = subprocess.run([python, str(script), *args], cwd=checkout, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"{script} failed in {checkout} (exit {done.returncode})")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", help="a script's name in benchmarks/ (text_speed, image_speed, ...)")
    parser.add_argument("args", nargs="*", help="passed to the script in both checkouts (after --)")
    parser.add_argument("--old", type=Path, default=Path(os.environ.get("OLD", "")) if os.environ.get("OLD") else None,
                        help="the checkout to compare against (default: $OLD)")
    parser.add_argument("--new", type=Path, default=Path(os.environ.get("NEW", ".")), help="default: $NEW, else .")
    parser.add_argument("--rounds", type=int, default=1, help="old and new alternately this many times; medians")
    parser.add_argument("--script-from", choices=("own", "new"), default="own",
                        help="own: each checkout runs its own copy of the script; new: both run the new one's")
    parser.add_argument("--python", default=sys.executable, help="the interpreter for both (default: this one)")
    args = parser.parse_args()
    if args.old is None:
        parser.error("say which checkout is the old one: --old PATH or OLD=PATH")
    name = args.benchmark.removesuffix(".py")
    old, new = args.old.resolve(), args.new.resolve()
    scripts = {c: (new if args.script_from == "new" else c) / "benchmarks" / f"{name}.py" for c in (old, new)}
    for checkout, script in scripts.items():
        if not script.is_file():
            raise SystemExit(f"no {script}" + (" (--script-from new runs the new checkout's)" if checkout == old else ""))
    if "--write-docs" in args.args:
        raise SystemExit("--write-docs has no place in a comparison: run the script alone for the docs")
    printed = {old: [], new: []}
    for _ in range(max(1, args.rounds)):
        for checkout in (old, new):
            printed[checkout].append(run(checkout, scripts[checkout], args.args, args.python))
    print(f"{name}: old = {old}, new = {new}; {max(1, args.rounds)} round(s), old first in each"
          + ("; medians of the rounds" if args.rounds > 1 else "") + "\n")
    print(side_by_side(merge_runs(printed[old]), merge_runs(printed[new])))
    old_lines, new_lines = text_lines(printed[old][-1]), text_lines(printed[new][-1])
    if old_lines != new_lines:
        print("Other lines (the last round's):\n")
        for line in old_lines:
            print(f"old: {line}")
        for line in new_lines:
            print(f"new: {line}")


if __name__ == "__main__":
    main()
