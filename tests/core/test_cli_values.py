"""The app's command line refuses values that cannot be clamped with a meaning, before any window is built."""

import pytest

from arplayground.gui.app import WIDGET_INT_MAX, parse_args


def refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stopped:
        parse_args(argv)
    assert stopped.value.code == 2  # argparse's own usage error
    return capsys.readouterr().err


@pytest.mark.parametrize("option", ["--temperature", "--top-p", "--guidance"])
@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN", "infinity", "1e400"])
def test_a_non_finite_number_is_refused_with_the_option_named(option, text, capsys):
    # "-inf" as its own word reads as an option to argparse; with "=" it reaches the type check.
    err = refused([f"{option}={text}"], capsys)
    name = option.removeprefix("--")
    assert f"argument {option}: {name} must be a finite number, not {text}" in err
    assert "usage: arplayground" in err


def test_minus_inf_as_its_own_word_is_refused_too(capsys):
    assert "argument --temperature: expected one argument" in refused(["--temperature", "-inf"], capsys)


def test_the_temperature_message_is_plain(capsys):
    err = refused(["--temperature", "nan"], capsys)
    assert "temperature must be a finite number, not nan" in err
    assert "Traceback" not in err


def test_a_word_is_refused_as_not_a_number(capsys):
    assert "temperature must be a number, not 'hot'" in refused(["--temperature", "hot"], capsys)
    assert "seed must be a whole number, not '1.5'" in refused(["--seed", "1.5"], capsys)


def test_finite_values_out_of_range_pass_through_to_be_clamped_with_a_note_by_the_window():
    args = parse_args(["--temperature", "-3", "--top-p", "7", "--guidance=-1e300", "--top-k", "999999",
                       "--length", "10000000"])
    assert (args.temperature, args.top_p, args.guidance, args.top_k, args.length) == (-3.0, 7.0, -1e300, 999999, 10**7)


@pytest.mark.parametrize("argv, message", [
    (["--top-k=-1"], "top-k must be a whole number from 0 (off) to 2147483647, not -1"),
    (["--length", "0"], "length must be a whole number from 1 to 2147483647, not 0"),
    (["--length=-5"], "length must be a whole number from 1 to 2147483647, not -5"),
    (["--seed=-1"], "seed must be a whole number from 0 to 2147483647, not -1"),
    (["--seed", str(WIDGET_INT_MAX + 1)], "seed must be a whole number from 0 to 2147483647, not 2147483648"),
    # Once crashed the window (OverflowError formatting the clamp note); digits past int()'s own limit too.
    (["--top-k", "1" + "0" * 400], "top-k must be a whole number from 0 (off) to 2147483647, not " + "1" + "0" * 26 + "..."),
    (["--length", "9" * 5000], "length must be a whole number from 1 to 2147483647, not " + "9" * 27 + "..."),
])
def test_whole_numbers_without_a_meaning_or_beyond_any_widget_are_refused(argv, message, capsys):
    assert message in refused(argv, capsys)


def test_the_largest_seed_and_the_edges_are_accepted():
    args = parse_args(["--seed", str(WIDGET_INT_MAX), "--top-k", "0", "--length", "1", "--temperature", "0"])
    assert (args.seed, args.top_k, args.length, args.temperature) == (WIDGET_INT_MAX, 0, 1, 0.0)


@pytest.mark.parametrize("option", ["--min-p", "--typical-p", "--top-n-sigma", "--repetition-penalty"])
def test_the_newer_stages_refuse_non_finite_numbers_and_pass_the_rest_to_be_clamped(option, capsys):
    name = option.removeprefix("--")
    assert f"{name} must be a finite number, not nan" in refused([option, "nan"], capsys)
    assert getattr(parse_args([option, "7"]), name.replace("-", "_")) == 7.0


def test_the_sampler_order_is_checked_and_completed():
    from arplayground.core.sampling import STAGES

    args = parse_args(["--sampler-order", "min-p,top_k", "--penalty-window", "16"])
    assert args.order[:2] == ("min_p", "top_k") and sorted(args.order) == sorted(STAGES) and args.penalty_window == 16


@pytest.mark.parametrize("argv, message", [
    (["--sampler-order", "top_k,xtc"], "unknown sampler stage 'xtc'"),
    (["--sampler-order", "top_k,top-k"], "each sampler stage may be named once"),
    (["--penalty-window", "0"], "penalty-window must be a whole number from 1 to 2147483647, not 0"),
])
def test_a_bad_sampler_order_or_window_is_refused(argv, message, capsys):
    assert message in refused(argv, capsys)
