"""benchmarks/report.py: a script's --write-docs replaces its own section of docs/benchmarks.md
between its markers, keeps the markers and leaves everything else byte for byte."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parents[2] / "benchmarks" / "report.py"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DOC = """# Benchmarks

Prose a person wrote, kept as it is.

<!-- bench:text_speed -->
old text table
<!-- /bench:text_speed -->

More prose.

<!-- bench:image_speed -->
| a | b |
|---|---|
| 1 | 2 |
<!-- /bench:image_speed -->

<!-- bench:image_speed.guidance-2 -->
guided
<!-- /bench:image_speed.guidance-2 -->
Last line without a newline"""


def test_replaces_its_section_and_keeps_the_rest(report):
    new = report.replace_section(DOC, "image_speed", "| a | b |\n|---|---|\n| 3 | 4 |\n")
    start, end = new.index("<!-- bench:image_speed -->"), new.index("<!-- /bench:image_speed -->")
    assert new[start:end] == "<!-- bench:image_speed -->\n| a | b |\n|---|---|\n| 3 | 4 |\n\n"
    old_start, old_end = DOC.index("<!-- bench:image_speed -->"), DOC.index("<!-- /bench:image_speed -->")
    assert new[:start] == DOC[:old_start]  # the text section, the prose: untouched
    assert new[end:] == DOC[old_end:]  # the guided variant (a name that starts the same) and the end: untouched
    assert "guided" in new and "old text table" in new and new.endswith("Last line without a newline")


def test_replacing_twice_is_replacing_once(report):
    once = report.replace_section(DOC, "text_speed", "new table")
    assert report.replace_section(once, "text_speed", "new table") == once
    assert once.count("<!-- bench:text_speed -->") == once.count("<!-- /bench:text_speed -->") == 1


def test_a_new_section_is_added_at_the_end(report):
    new = report.replace_section(DOC, "lab_rewind", "rows")
    assert new.startswith(DOC + "\n")
    assert new.endswith("\n<!-- bench:lab_rewind -->\nrows\n\n<!-- /bench:lab_rewind -->\n")


@pytest.mark.parametrize("broken", [
    "<!-- bench:x -->\na\n<!-- bench:x -->\nb\n<!-- /bench:x -->\n",  # opened twice
    "<!-- /bench:x -->\na\n<!-- bench:x -->\n",  # closed before it opens
    "<!-- bench:x -->\nnever closed\n",
])
def test_broken_markers_are_refused(report, broken):
    with pytest.raises(ValueError, match="section 'x'"):
        report.replace_section(broken, "x", "body")


def test_names_are_checked(report):
    with pytest.raises(ValueError):
        report.replace_section(DOC, "x -->\n<!-- y", "body")


def test_write_section_replaces_the_file_whole(report, tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(DOC, encoding="utf-8")
    os.chmod(docs, 0o640)
    report.write_section("text_speed", "fresh", docs)
    assert docs.read_text(encoding="utf-8") == report.replace_section(DOC, "text_speed", "fresh")
    assert os.stat(docs).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmarks.md"]  # no temporary file left


def test_a_refused_write_leaves_the_file_as_it_was(report, tmp_path):
    docs = tmp_path / "benchmarks.md"
    broken = DOC + "\n<!-- bench:text_speed -->\n"
    docs.write_text(broken, encoding="utf-8")
    with pytest.raises(ValueError):
        report.write_section("text_speed", "fresh", docs)
    assert docs.read_text(encoding="utf-8") == broken
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmarks.md"]


def test_docs_section_writes_what_the_script_printed(report, tmp_path, monkeypatch, capsys):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(DOC, encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["benchmarks/image_speed.py", "--repeats", "2", "--write-docs"])
    with report.docs_section("/somewhere/benchmarks/image_speed.py", True, gui=True, docs=docs):
        print("model x: 3 parameters")
        print("| a | b |\n|---|---|\n| 5 | 6 |")
        print("median ratio 9.0x")
    assert "| 5 | 6 |" in capsys.readouterr().out  # still printed as before
    text = docs.read_text(encoding="utf-8")
    section = text[text.index("<!-- bench:image_speed -->") : text.index("<!-- /bench:image_speed -->")]
    assert "QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/image_speed.py --repeats 2\n" in section
    assert "--write-docs\n" not in section.split("```sh")[1]
    assert "Measured on " in section and "cores" in section and "commit " in section and "UTC" in section
    assert "model x: 3 parameters\n\n| a | b |\n|---|---|\n| 5 | 6 |\n\nmedian ratio 9.0x\n" in section
    assert "old text table" in text and "guided" in text  # the other sections


def test_docs_section_writes_nothing_when_the_run_fails(report, tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(DOC, encoding="utf-8")
    with pytest.raises(RuntimeError):
        with report.docs_section("text_speed.py", True, docs=docs):
            print("half a table")
            raise RuntimeError("the model failed")
    assert docs.read_text(encoding="utf-8") == DOC
    with report.docs_section("text_speed.py", False, docs=docs):
        print("not asked to write")
    assert docs.read_text(encoding="utf-8") == DOC


def test_a_variant_has_its_own_section(report, tmp_path, monkeypatch):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(DOC, encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["image_speed.py", "--guidance", "2", "--write-docs"])
    with report.docs_section("image_speed.py", True, variant="guidance-2", docs=docs):
        print("guided again")
    text = docs.read_text(encoding="utf-8")
    assert "guided again" in text and "| 1 | 2 |" in text and "guided\n<!-- /bench:image_speed.guidance-2 -->" not in text


CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx avx2 fma
processor\t: 1
model name\t: ignored, the first block is read
"""


def test_cpu_summary(report):
    assert report.cpu_summary(CPUINFO, cores=2) == "AMD EPYC 7B13 (family 25, model 1), 2 cores: AVX2, no AVX-512, no bf16, no AMX"
    bf16 = CPUINFO.replace("avx2 fma", "avx2 fma avx512f avx512_bf16")
    assert report.cpu_summary(bf16, cores=16).endswith("16 cores: AVX2, AVX-512, AVX-512 BF16, no AMX")
    assert "cores" in report.cpu_summary()  # this machine's, whatever it is


def test_tables_are_set_apart_from_text(report):
    assert report.as_markdown("note\n| a |\n|---|\nafter  \n\n\n\nend\n") == "note\n\n| a |\n|---|\n\nafter\n\nend"


def test_use_checkout_prefers_pythonpath_then_the_working_folder(report, tmp_path, monkeypatch):
    checkout = tmp_path / "old"
    (checkout / "arplayground").mkdir(parents=True)
    (checkout / "arplayground" / "__init__.py").write_text("")
    monkeypatch.chdir(checkout)
    monkeypatch.setattr(sys, "path", ["/the/script/folder", "/site-packages"])
    monkeypatch.delenv("PYTHONPATH", raising=False)
    report.use_checkout()
    assert sys.path == ["/the/script/folder", str(checkout), "/site-packages"]
    monkeypatch.setattr(sys, "path", ["/the/script/folder", "/other", "/site-packages"])
    monkeypatch.setenv("PYTHONPATH", "/other" + os.pathsep + str(checkout))
    report.use_checkout()  # PYTHONPATH names a checkout: the caller's choice stands
    assert sys.path == ["/the/script/folder", "/other", "/site-packages"]


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("bench_compare", REPORT.parent / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_reads_the_numbers_in_cells(compare):
    assert [compare.number(c) for c in ("1,342 chars", "34.8x", "**34.8x**", "14.3 at 0.08", "+2.3%", "0.065", "yes", "-", "")] == \
        [1342.0, 34.8, 34.8, 14.3, 2.3, 0.065, None, None, None]


def test_compare_puts_rows_side_by_side(compare):
    old = "model m\n\n| context | chars/s | same |\n|---:|---:|:---:|\n| 64 | 300 | yes |\n| 1000 | 200 | yes |\n\nmedian 3.0x\n"
    new = "model m\n\n| context | chars/s | same |\n|---:|---:|:---:|\n| 1000 | 100 | yes |\n| 64 | 600 | NO |\n\nmedian 4.0x\n"
    table = compare.side_by_side(compare.merge_runs([old]), compare.merge_runs([new]))
    assert "| 64 | 300 → 600 (2.00x) | yes / NO |" in table  # matched by the first cell, not the order
    assert "| 1000 | 200 → 100 (0.50x) | yes |" in table
    three = compare.merge_runs([old, old.replace("| 300 |", "| 100 |"), old.replace("| 300 |", "| 200 |")])
    assert three[0][1][0] == ["64", "200", "yes"]  # the median of the rounds
