"""The session the window renders: runs, branches, rewind, rename, resume and replay checks, and
what the window says of them, with a real tiny model and no Qt."""

import math

import numpy as np
import pytest

from arplayground import catalog
from arplayground.core.lab import Branch, replay
from arplayground.core.sampling import SamplerSettings
from arplayground.core.session import Session, compare_replay, load_failure
from tests.conftest import write_tiny_gpt


@pytest.fixture(scope="module")
def stepper(tmp_path_factory):
    folder = tmp_path_factory.mktemp("session")
    write_tiny_gpt(folder)
    return catalog.load_stepper(catalog.discover(folder)[0])


def generate(session, stepper):
    """Run the shown branch on as the worker would: from its continuation, recording each step."""
    history, remaining, forced = session.continuation() if session.resumable else (
        session.branch.history(), session.remaining(), session.branch.forced)
    session.continued()
    for step in Branch("run", history, session.branch.condition, session.branch.seed,
                       forced=forced).continuation(stepper, remaining, SamplerSettings):
        session.branch.record_into_trace(step)


def test_an_empty_session_shows_nothing_and_allows_nothing():
    s = Session()
    assert len(s.trace) == 0 and s.branch is None and not s.has_single_run()
    assert not s.can_go_back(paused_or_idle=True) and s.continuation() is None


def test_a_run_rewound_and_resumed_meets_the_same_values(stepper):
    s = Session()
    s.start((5, 6, 7), None, seed=3, planned=20)
    generate(s, stepper)
    first = s.trace.values.copy()
    assert len(first) == 20 and not s.resumable and s.steps_text() == "20 steps"
    assert s.can_go_back(paused_or_idle=True) and not s.can_go_back(paused_or_idle=False)
    assert s.rewind(12) == 12 and s.resumable and s.remaining() == 8
    history, remaining, forced = s.continuation()
    assert history == (5, 6, 7, *first[:12].tolist()) and remaining == 8 and forced == {}
    generate(s, stepper)
    np.testing.assert_array_equal(s.trace.values, first)


def test_a_fork_forces_its_value_keeps_the_parent_and_choose_switches_back(stepper):
    s = Session()
    s.start((5, 6, 7), None, seed=3, planned=20)
    generate(s, stepper)
    main = s.branch
    other = (int(main.values[8]) + 1) % 65
    side = s.fork(8, other)
    assert side.name == "branch 1" and s.branch is side and s.resumable and len(s.trace) == 8
    assert s.forced_at(8) and not s.forced_at(7)
    generate(s, stepper)
    assert s.trace.values[8] == other and len(main.trace) == 20
    assert s.fork(3, 0).name == "branch 2"
    assert s.choose("main") is main and not s.resumable  # complete: nothing to resume
    assert s.choose("main") is None and s.choose("nope") is None
    assert s.choose("branch 2") is not None and s.resumable  # 3 of 20 steps: Resume continues it
    lines = dict(s.branch_lines(lambda v: f"#{v}"))
    assert lines["branch 1"].startswith(f"branch 1 (from main at step 9: #{other}) · 20 steps · NLL ")
    assert lines["branch 2"] == "branch 2 (from branch 1 at step 4: #0) · 3 steps · NLL " + f"{s.branch.trace.nll():.3f}"


def test_rename_is_unique_and_children_follow(stepper):
    s = Session()
    s.start((5,), None, seed=1, planned=10)
    generate(s, stepper)
    s.fork(4, 0)
    s.choose("main")
    assert s.rename("  ") is None and s.branch.name == "main"  # nothing to do
    assert s.rename("branch 1") == "There is already a branch called branch 1"
    assert s.rename(" trunk ") is None and s.branch.name == "trunk"
    assert list(s.branches) == ["trunk", "branch 1"] and s.branches["branch 1"].parent == "trunk"


def test_a_stopped_single_run_can_resume_a_grid_cannot():
    s = Session()
    s.start((), [1, 2, 3, 4], seed=0, planned=784, lanes=4)
    assert s.planned_records == 3136 and not s.has_single_run()
    s.stopped()
    assert not s.resumable and s.steps_text(8) == "2 steps in each of 4 images"
    s.start((1,), None, seed=0, planned=30)
    s.stopped()
    assert s.resumable


def test_an_opened_trace_is_shown_as_it_is_and_its_replay_compared_with_it(stepper):
    recorded = Session()
    recorded.start((5, 6), None, seed=9, planned=15)
    generate(recorded, stepper)
    s = Session()
    s.open_trace(recorded.branch)
    assert s.planned == 15 and s.trace is recorded.branch.trace and not s.resumable and s.can_go_back(True)
    check = compare_replay(replay(stepper, recorded.branch), recorded.branch.values)
    assert check.identical and check.text() == "Replayed 15 steps: identical to the trace"
    other = replay(stepper, recorded.branch)
    other[6] += 1  # what another model would have drawn
    check = compare_replay(other, recorded.branch.values)
    assert not check.identical and check.first_difference == 6
    assert check.text() == "Replayed 15 steps: NOT identical; differs from the file at step 7"
    assert compare_replay(recorded.branch.values[:10], recorded.branch.values).first_difference == 10
    grid = compare_replay(np.arange(8), np.r_[np.arange(5), 0, 6, 7], lanes=2)
    assert grid.text() == "Replayed 4 steps in each of 2 images: NOT identical; differs from the file at step 3 of image 2"
    # A trace of a run stopped early plans the rest: Resume continues it, from its end, with its seed.
    recorded.branch.planned = 20
    s.open_trace(recorded.branch)
    assert s.resumable and s.continuation() == (recorded.branch.history(), 5, recorded.branch.forced)
    generate(s, stepper)
    assert len(s.trace) == 20
    whole = Session()
    whole.start((5, 6), None, seed=9, planned=20)
    generate(whole, stepper)
    assert s.trace.values.tolist() == whole.trace.values.tolist()
    grid = Session()
    grid.open_trace(Branch("main", (), [1, 2], 0, trace=recorded.branch.trace.copy(10), planned=5), lanes=2)
    assert (grid.planned, grid.lanes, grid.resumable, grid.has_single_run()) == (5, 2, False, False)
    assert grid.export_refusal() is None  # a grid exports too


def test_what_if_replays_the_step_under_other_settings_with_its_own_uniform(stepper):
    from arplayground.core.sampling import sample

    s = Session()
    s.start((5, 6, 7), None, seed=3, planned=10)
    steps = list(Branch("run", (5, 6, 7), None, 3).continuation(stepper, 10, SamplerSettings))
    for step in steps:
        s.branch.record_into_trace(step)
    raw = steps[4].sample(0).raw_probs
    same = s.what_if(4, raw, None, SamplerSettings())
    assert same.would_draw == s.trace[4].value  # the settings it drew with: what it drew
    greedy = s.what_if(4, raw, None, SamplerSettings(temperature=0.0))
    assert greedy.would_draw == int(np.argmax(raw))
    top2 = s.what_if(4, raw, None, SamplerSettings(top_k=2))
    logits = np.log(np.maximum(raw, 1e-38))
    assert top2.would_draw == sample(logits, SamplerSettings(top_k=2), s.trace[4].u).value  # the step's own u


def test_the_status_bar_figures_count_steps_per_image_and_give_the_nll(stepper):
    s = Session()
    assert s.stats_text("char") == ""  # no step yet
    s.start((5, 6, 7), None, seed=3, planned=20)
    generate(s, stepper)
    nll = s.trace.nll()
    assert s.stats_text("char") == f"step 20 / 20  ·  NLL {nll:.3f} nats/char  ·  perplexity {math.exp(nll):.2f}"
    assert s.stats_text("char", 1234.4).startswith("step 20 / 20  ·  computes 1,234 chars/s  ·  NLL ")
    paced = s.stats_text("char", 221.6, 19.7)  # the Speed slider at 20: both rates, each labelled
    assert paced.startswith("step 20 / 20  ·  computes 222 chars/s · shown at 20 chars/s  ·  NLL "), paced
    s.rewind(12)
    assert s.stats_text("char").startswith("step 12 / 20  ·  NLL ")
    # A grid's trace interleaves its images: six records of two images are three steps of each.
    s.start((5, 6, 7), None, seed=3, planned=10, lanes=2)
    for step in Branch("run", (5, 6, 7), None, 3).continuation(stepper, 6, SamplerSettings):
        s.branch.record_into_trace(step)
    assert s.stats_text("pixel").startswith("step 3 / 10 in each of 2 images  ·  NLL ")


def test_a_runs_end_is_said_in_the_words_of_its_outcome(stepper):
    s = Session()
    s.start((5, 6, 7), None, seed=3, planned=20)
    generate(s, stepper)
    assert s.outcome_text("done", "tiny-gpt") == "Done: 20 steps"
    assert s.outcome_text("stopped", "tiny-gpt") == "Stopped after 20 steps"
    s.rewind(4)
    # The worker counts positions from the start of the sequence, the prefix's three included.
    assert s.outcome_text("nonfinite 7 NaN or inf", "tiny-gpt") == (
        "tiny-gpt went wrong at step 5: its output is not finite numbers (NaN or inf). "
        "The run stopped; 4 steps before it are kept.")
    failed = "error: ModelError: the weights hold no tensor 'head'"
    assert load_failure(failed) == "the weights hold no tensor 'head'" and load_failure("done") is None
    assert s.outcome_text(failed, "tiny-gpt") == "Could not load tiny-gpt: the weights hold no tensor 'head'"
    assert s.outcome_text("error: OSError: gone", "tiny-gpt") == "Generation failed: error: OSError: gone"


def test_a_run_with_steps_is_exported_a_grid_too(stepper):
    s = Session()
    assert s.export_refusal() == "Nothing to export yet: generate first"
    s.start((5, 6, 7), None, seed=3, planned=20, lanes=2)
    assert s.export_refusal() == "Nothing to export yet: generate first"  # no step yet
    for step in Branch("run", (5, 6, 7), None, 3).continuation(stepper, 2, SamplerSettings):
        s.branch.record_into_trace(step)
    assert s.export_refusal() is None  # its images as lanes
    s.start((5, 6, 7), None, seed=3, planned=20)
    generate(s, stepper)
    assert s.export_refusal() is None


def test_ab_starts_at_the_shown_step_or_at_the_first_of_a_finished_run(stepper):
    s = Session()
    assert s.ab_start(None) == (1, None)  # nothing yet: the first step, not drawn
    s.start((5, 6, 7), None, seed=3, planned=20)
    per_step = iter(SamplerSettings(temperature=0.5 + 0.1 * i) for i in range(20))  # each step its own
    for step in Branch("run", (5, 6, 7), None, 3).continuation(stepper, 20, per_step.__next__):
        s.branch.record_into_trace(step)
    assert s.ab_start(None) == (1, s.trace[0].settings)
    assert s.ab_start(6) == (7, SamplerSettings(temperature=0.5 + 0.1 * 6))  # step 7 shown: A/B from step 7 on
    assert s.ab_start(19) == (1, s.trace[0].settings)  # a finished run still showing its last step
    s.rewind(10)
    assert s.ab_start(9) == (10, s.trace[9].settings)  # the last kept step, of an unfinished run


def test_scored_branches_sit_beside_the_run_each_with_its_own_length():
    from arplayground.core.lab import Branch
    from arplayground.core.trace import Trace

    s = Session()
    s.start((5,), None, seed=1, planned=10)
    run = s.branch

    def scored(n):
        t = Trace()
        b = Branch("x", (), None, 0, t, {i: 1 for i in range(n)}, scored_steps=n)
        from arplayground.core.score import forced_block

        t.extend(forced_block(0, np.zeros((n, 4)), np.ones(n, np.int64), 0, 0.0))
        return b

    first = s.add_scored(scored(4), keep_others=True)
    assert first.name == "scored 1" and s.planned == 4 and not s.resumable and set(s.branches) == {"main", "scored 1"}
    second = s.add_scored(scored(6), keep_others=True)
    assert second.name == "scored 2" and [b.name for b in s.scored_branches()] == ["scored 1", "scored 2"]
    s.choose("main")
    assert s.branch is run and s.planned == 10
    s.choose("scored 1")
    assert s.planned == 4 and not s.resumable
    s.rewind(2)  # free-run from step 3: the model goes on from the real data
    assert s.resumable and s.remaining() == 2 and s.branch.scored_steps == 2
    s.add_scored(scored(3), keep_others=False)  # another model or mode: alone
    assert list(s.branches) == ["scored 1"]
