"""Model cards and weights: good ones load, broken ones are listed with a reason."""

import json
import pickle
import struct

import numpy as np
import pytest

from arplayground import catalog
from tests.conftest import write_tiny_gpt, write_tiny_pixelcnn


def entry_named(folder, name):
    return {e.name: e for e in catalog.discover(folder)}[name]


def test_good_model_loads_and_steps(tiny_models):
    entry = entry_named(tiny_models, "tiny-gpt")
    assert entry.available, entry.error
    stepper = catalog.load_stepper(entry)
    stepper.reset(stepper.vocab.encode("ROMEO:"))
    assert stepper.logits().shape == (len(stepper.vocab),)


def test_missing_weights(tiny_models):
    (tiny_models / "tiny-gpt.safetensors").unlink()
    assert "missing" in entry_named(tiny_models, "tiny-gpt").error


def test_truncated_weights(tiny_models):
    path = tiny_models / "tiny-gpt.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])
    assert "truncated" in entry_named(tiny_models, "tiny-gpt").error


def test_pickle_is_not_safetensors(tiny_models):
    (tiny_models / "tiny-gpt.safetensors").write_bytes(pickle.dumps({"w": np.zeros(3)}))
    entry = entry_named(tiny_models, "tiny-gpt")
    assert "not a safetensors file" in entry.error
    with pytest.raises(catalog.ModelError):
        catalog.load_stepper(entry)


def test_card_that_does_not_match_its_weights(tiny_models):
    card_path = tiny_models / "tiny-gpt.json"
    card = json.loads(card_path.read_text())
    card["config"]["n_embd"] = 48
    card_path.write_text(json.dumps(card))
    assert "do not match the card" in entry_named(tiny_models, "tiny-gpt").error


def test_broken_card_json_and_other_models_still_listed(tiny_models):
    (tiny_models / "zz-broken.json").write_text("{ not json")
    write_tiny_gpt(tiny_models, name="second", seed=1)
    entries = {e.name: e for e in catalog.discover(tiny_models)}
    assert "not valid JSON" in entries["zz-broken"].error
    assert entries["tiny-gpt"].available and entries["second"].available


def damage_card(path, change):
    card = json.loads(path.read_text())
    change(card)
    path.write_text(json.dumps(card))


@pytest.mark.parametrize("damage, reason", [
    (lambda card: card.update(weights=None), "not a file name"),
    (lambda card: card["config"].update(n_head=5), "not a multiple of n_head"),  # 5 heads do not divide the width
    (lambda card: card["config"].update(n_embd=-8), "config.n_embd is -8; this version takes 2 to 4096"),
    (lambda card: card.update(config=[1, 2]), "'config' is not a JSON object"),
])
def test_card_with_values_nothing_expects_is_unavailable_and_the_rest_listed(tiny_models, damage, reason):
    write_tiny_gpt(tiny_models, name="second", seed=1)
    damage_card(tiny_models / "tiny-gpt.json", damage)
    entries = {e.name: e for e in catalog.discover(tiny_models)}
    assert reason in entries["tiny-gpt"].error
    assert entries["second"].available
    with pytest.raises(catalog.ModelError):
        catalog.load_stepper(entries["tiny-gpt"])


def test_card_that_is_not_utf8(tiny_models):
    (tiny_models / "latin.json").write_bytes(b'{"name": "caf\xe9"}')
    assert "not UTF-8" in entry_named(tiny_models, "latin").error


def test_safetensors_table_without_shapes(tiny_models):
    path = tiny_models / "tiny-gpt.safetensors"
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    table = json.loads(data[8 : 8 + n])
    for name, tensor in table.items():
        if name != "__metadata__":
            del tensor["shape"]
    header = json.dumps(table).encode().ljust(n)  # same length, so the offsets still hold
    path.write_bytes(data[:8] + header + data[8 + n :])
    assert "bad tensor table" in entry_named(tiny_models, "tiny-gpt").error


def test_bundled_models_are_all_available():
    entries = catalog.discover()
    assert entries, "models/ holds no model card"
    for entry in entries:
        assert entry.available, f"{entry.name}: {entry.error}"
        card = entry.card
        for key in ("architecture", "dataset", "validation", "parameters", "training"):
            assert key in card, f"{entry.name} card lacks {key}"
        assert card["training"]["command"].startswith("arplayground-train")
        assert entry.weights_path.stat().st_size < 50_000_000


def test_typical_seconds_looks_up_the_digit_and_speaker_and_falls_back_to_any():
    card = {"speakers": ["ann", "bob"],
            "dataset": {"typical_seconds": {"3": {"any": 0.4, "ann": 0.3}, "any": {"any": 0.42, "bob": 0.5}}}}
    assert catalog.typical_seconds(card, 3, 0) == 0.3
    assert catalog.typical_seconds(card, 3, 1) == 0.4  # no figure for bob saying 3: any speaker's
    assert catalog.typical_seconds(card, None, 1) == 0.5 and catalog.typical_seconds(card, None, None) == 0.42
    assert catalog.typical_seconds(card, 5, None) is None  # a digit the card does not know
    assert catalog.typical_seconds({"speakers": ["ann"]}, 3, 0) is None  # a card written without them
    assert catalog.typical_seconds({"dataset": {"typical_seconds": {"any": {"any": "long"}}}}, None, None) is None


def test_the_bundled_audio_card_says_how_long_its_words_usually_are():
    entry = next(e for e in catalog.discover() if e.mode == "audio")
    assert 0.3 < catalog.typical_seconds(entry.card, None, None) < 0.6  # FSDD's median recording: 0.42 s
    assert all(0.2 < catalog.typical_seconds(entry.card, d, s) < 0.8 for d in range(10) for s in range(6))


# ---------------------------------------------------------------- issue 19, item 3: one bad file never stops the app


def tiny_gpt_card(folder):
    return json.loads((folder / "tiny-gpt.json").read_text())


def write_bad_cards(folder, outside):
    """Beside good models, one file of every kind that used to stop, hang or exhaust startup.
    Returns {card file name: a words its reason must hold}. `outside` is a folder beside models/."""
    import os

    base = tiny_gpt_card(folder)

    def card(file, **changes):
        (folder / file).write_text(json.dumps({**base, "name": file[:-5], **changes}))

    def config(file, **changes):
        card(file, config={**base["config"], **changes})

    (folder / "array.json").write_text("[1, 2, 3]")
    (folder / "number.json").write_text("5")
    card("config-list.json", config=[])
    card("vocab-twice.json", vocabulary=base["vocabulary"][:-1] + ["a"])
    card("name-number.json", name=5)
    card("mode-list.json", mode=["text"])
    config("absurd.json", n_layer=10**9)
    config("absurd-width.json", n_embd=10**6, n_head=10)
    os.mkfifo(folder / "fifo.json")
    (folder / "folder.json").mkdir()
    with open(folder / "huge.json", "wb") as f:
        f.truncate(50_000_000)  # 50 MB that never have to be written to disk
    (folder / "latin1.json").write_bytes(b'{"name": "caf\xe9"}')
    card("escape.json", weights="../x.safetensors")
    card("passwd.json", weights="/etc/passwd")
    (outside / "x.safetensors").write_bytes((folder / "tiny-gpt.safetensors").read_bytes())
    (folder / "link.safetensors").symlink_to(outside / "x.safetensors")
    card("link.json", weights="link.safetensors")
    os.mkfifo(folder / "fifo.safetensors")
    card("fifo-weights.json", weights="fifo.safetensors")
    (folder / "deep.json").write_text("[" * 100_000)
    return {
        "array.json": "not a JSON object", "number.json": "not a JSON object",
        "config-list.json": "'config' is not a JSON object", "vocab-twice.json": "holds 'a' more than once",
        "name-number.json": "name is not a string", "mode-list.json": "mode (a JSON array) is not one",
        "absurd.json": "n_layer is 1000000000; this version takes 1 to 64",
        "absurd-width.json": "n_embd is 1000000; this version takes 2 to 4096",
        "fifo.json": "not a regular file", "folder.json": "not a regular file",
        "huge.json": "50,000,000 bytes; at most 1,000,000", "latin1.json": "not UTF-8",
        "escape.json": "not a file name in the models folder", "passwd.json": "not a file name in the models folder",
        "link.json": "outside the models folder", "fifo-weights.json": "fifo.safetensors is not a regular file",
        "deep.json": "nested too deeply",
    }


def discover_within(folder, seconds=20):
    """catalog.discover on another thread, failing (instead of hanging the suite) if it blocks."""
    import threading

    found = []
    thread = threading.Thread(target=lambda: found.append(catalog.discover(folder)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert found, f"discover did not return within {seconds} s (blocked on a file?)"
    return found[0]


def test_every_kind_of_bad_file_is_refused_with_its_reason_and_the_good_models_listed(all_kinds_of_models, tmp_path):
    import tracemalloc

    outside = tmp_path / "outside"
    outside.mkdir()
    reasons = write_bad_cards(all_kinds_of_models, outside)
    tracemalloc.start()
    entries = discover_within(all_kinds_of_models)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    by_file = {e.card_path.name: e for e in entries}
    for good in ("tiny-gpt.json", "tiny-pixelcnn.json", "tiny-wavenet.json"):
        assert by_file[good].available, by_file[good].error
    for file, reason in reasons.items():
        entry = by_file[file]
        assert not entry.available and reason in entry.error, (file, entry.error)
        assert isinstance(entry.name, str) and entry.mode in (*catalog.MODES, "?")
        assert entry.summary().startswith("unavailable: ")
    assert peak < 20_000_000, f"discovery allocated {peak:,} bytes"  # the 50 MB card was never read


@pytest.fixture
def all_kinds_of_models(tiny_models):
    from tests.conftest import write_tiny_pixelcnn, write_tiny_wavenet

    write_tiny_pixelcnn(tiny_models)
    write_tiny_wavenet(tiny_models)
    return tiny_models


def test_absurd_sizes_are_refused_without_building_anything(tiny_audio_models, monkeypatch):
    from arplayground.nets import wavenet

    built = []
    monkeypatch.setattr(wavenet.WaveNet, "__init__", lambda self, cfg: built.append(cfg))
    damage_card(tiny_audio_models / "tiny-wavenet.json",
                lambda card: card["config"].update(residual=1024, skip=2048, cycle=1, n_cycles=16))
    entry = entry_named(tiny_audio_models, "tiny-wavenet")
    assert "makes 123,524,800 " in entry.error and "parameters; this version loads at most 50,000,000" in entry.error
    assert built == []  # the shapes came from arithmetic: nothing was built to compare them


def test_a_card_of_the_right_size_but_caches_too_big_is_refused(tiny_models):
    deep_and_long = {"n_layer": 48, "block_size": 8192, "n_embd": 256, "n_head": 4}  # 38 M parameters, 805 MB of KV cache
    damage_card(tiny_models / "tiny-gpt.json", lambda card: card["config"].update(deep_and_long))
    assert "MB of caches" in entry_named(tiny_models, "tiny-gpt").error


def test_weights_inside_the_folder_through_a_link_are_fine(tiny_models):
    (tiny_models / "alias.safetensors").symlink_to("tiny-gpt.safetensors")
    damage_card(tiny_models / "tiny-gpt.json", lambda card: card.update(weights="alias.safetensors"))
    assert entry_named(tiny_models, "tiny-gpt").available


def test_a_card_is_read_no_further_than_its_bound_whatever_its_size_says(tiny_models, monkeypatch):
    monkeypatch.setattr(catalog, "MAX_CARD_BYTES", 100)
    assert "at most 100" in entry_named(tiny_models, "tiny-gpt").error


def test_a_huge_safetensors_header_is_refused_before_it_is_read(tiny_models):
    path = tiny_models / "tiny-gpt.safetensors"
    path.write_bytes(struct.pack("<Q", 90_000_000) + b"{" + b" " * 100)
    assert "bad header length" in entry_named(tiny_models, "tiny-gpt").error


@pytest.mark.parametrize("offsets", [["0", "8"], [0], [True, 8], None])
def test_safetensors_offsets_that_are_not_two_counts(tiny_models, offsets):
    path = tiny_models / "tiny-gpt.safetensors"
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    table = json.loads(data[8 : 8 + n])
    table["ln_f.bias"]["data_offsets"] = offsets
    header = json.dumps(table, separators=(",", ":")).encode()
    assert len(header) <= n
    path.write_bytes(data[:8] + header.ljust(n) + data[8 + n :])  # same length, so the rest still holds
    assert "bad tensor table" in entry_named(tiny_models, "tiny-gpt").error


def test_a_card_with_an_enormous_integer_is_refused(tiny_models):
    (tiny_models / "digits.json").write_text('{"name": "digits", "config": {"n_layer": ' + "9" * 5000 + "}}")
    assert "cannot be read" in entry_named(tiny_models, "digits").error


def test_what_the_gui_reads_from_a_card_cannot_raise(tiny_audio_models):
    entry = entry_named(tiny_audio_models, "tiny-wavenet")
    assert entry.available
    assert len(catalog.vocabulary(entry)) == 256 and "parameters" in entry.summary()
    assert entry.card["config"]["sample_rate"] == 8000  # filled in from the defaults when a card omits it
    for dataset in ([], {"typical_seconds": []}, {"typical_seconds": {"any": {"any": 10**400}}},
                    {"typical_seconds": {"any": {"any": True}}}, {"typical_seconds": {"any": {"any": float("inf")}}},
                    {"typical_seconds": {"any": 3}}, {"typical_seconds": {"3": {"any": 0.4}, "any": {5: 1}}}):
        card = {**entry.card, "dataset": dataset, "speakers": [None, {}, "cy"]}
        for digit in (None, 3, 11):
            for speaker in (None, 0, 1, 2, 7, -1):
                seconds = catalog.typical_seconds(card, digit, speaker)
                assert seconds is None or 0 < seconds <= catalog.MAX_TYPICAL_SECONDS
    assert catalog.typical_seconds([], None, None) is None


def test_an_unavailable_entry_has_no_vocabulary(tiny_models):
    (tiny_models / "tiny-gpt.safetensors").unlink()
    with pytest.raises(catalog.ModelError, match="missing"):
        catalog.vocabulary(entry_named(tiny_models, "tiny-gpt"))


# ---------------------------------------------------------------- item 6: two cards of one name are two models


def write_second_card_of_the_same_name(folder):
    """A retrained copy saved under the name of the first: other weights, its own card file."""
    write_tiny_gpt(folder, name="retrained", seed=1)
    damage_card(folder / "retrained.json", lambda card: card.update(name="tiny-gpt"))
    return folder / "retrained.json"


def test_two_cards_of_one_name_load_their_own_weights(tiny_models):
    write_second_card_of_the_same_name(tiny_models)
    first, second = catalog.discover(tiny_models)  # retrained.json, then tiny-gpt.json
    assert first.name == second.name == "tiny-gpt" and first.available and second.available
    cache = catalog.StepperCache()
    a = cache.get(first)
    a.reset(a.vocab.encode("ROMEO:"))
    logits_a = a.logits().copy()
    b = cache.get(second)
    assert b is not a
    b.reset(b.vocab.encode("ROMEO:"))
    assert not np.allclose(logits_a, b.logits())
    assert catalog.distinct_labels([first, second]) == ["tiny-gpt", "tiny-gpt (tiny-gpt.json)"]


def test_a_weights_file_replaced_on_disk_is_loaded_again(tiny_models):
    import os

    entry = entry_named(tiny_models, "tiny-gpt")
    cache = catalog.StepperCache()
    old = cache.get(entry)
    weights = tiny_models / "tiny-gpt.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert cache.get(entry) is not old


def test_entry_for_trace_prefers_the_card_the_trace_was_made_with(tiny_models):
    write_second_card_of_the_same_name(tiny_models)
    write_tiny_pixelcnn(tiny_models)
    entries = catalog.discover(tiny_models)
    retrained, original = (e for e in entries if e.name == "tiny-gpt")
    assert catalog.entry_for_trace(entries, "text", "tiny-gpt", original.card) is original
    assert catalog.entry_for_trace(entries, "text", "tiny-gpt", retrained.card) is retrained
    assert catalog.entry_for_trace(entries, "text", "tiny-gpt", {"other": 1}) is retrained  # the first of that name
    assert catalog.entry_for_trace(entries, "image", "tiny-gpt", original.card) is None  # another mode's
    assert catalog.entry_for_trace(entries, "text", "nobody", None) is None
    original.error = "broken since"
    assert catalog.entry_for_trace(entries, "text", "tiny-gpt", original.card) is retrained  # only an available one


# ---------------------------------------------------------------- item 10: models not shown are released


def test_the_cache_holds_one_model_per_mode_and_releases_the_rest(tiny_models):
    import gc
    import weakref

    write_tiny_gpt(tiny_models, name="other", seed=1)
    write_tiny_pixelcnn(tiny_models)
    entries = {e.name: e for e in catalog.discover(tiny_models)}
    cache = catalog.StepperCache()
    a = weakref.ref(cache.get(entries["tiny-gpt"]))
    image = cache.get(entries["tiny-pixelcnn"])
    cache.get(entries["other"])  # another text model: the first text one goes
    gc.collect()
    assert a() is None
    assert cache.held(entries["tiny-pixelcnn"]) is image  # the image mode's own stays
    cache.keep_only([entries["other"]])  # the picker chose these, one per mode
    assert cache.held(entries["tiny-pixelcnn"]) is None and cache.held(entries["other"]) is not None


def test_a_stepper_dropped_from_the_cache_still_runs_for_whoever_holds_it(tiny_models):
    entry = entry_named(tiny_models, "tiny-gpt")
    cache = catalog.StepperCache()
    running = cache.get(entry)
    cache.keep_only([])
    running.reset(running.vocab.encode("KING:"))
    assert running.logits().shape == (len(running.vocab),)


def test_a_windows_own_steppers_keep_a_copy_per_model_until_let_go(tiny_models):
    write_tiny_gpt(tiny_models, name="other-gpt", seed=1)
    a, b = (catalog.read_entry(tiny_models / f"{n}.json") for n in ("tiny-gpt", "other-gpt"))
    own, window = catalog.StepperCache(one_per_mode=False), catalog.StepperCache()
    first = own.get(a)
    assert own.get(a) is first and own.get(b) is not first  # two text models at once
    assert window.get(a) is not first  # apart from the window's
    own.keep_only([b])
    assert own.get(a) is not first  # let go, loaded again
