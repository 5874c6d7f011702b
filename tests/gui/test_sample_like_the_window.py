"""`arplayground sample` writes the file the window saves after a run with the same settings and
seed: text, a grid of images, a clip; and the defaults it takes are those of a new window."""

from arplayground.gui import sample_command
from arplayground.gui.app import main as app_main
from tests.gui.driver import WindowDriver


def test_the_command_writes_what_the_window_saves_for_the_same_settings_in_every_mode(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "text")
    try:
        w = d.window
        # The window's starting values, which the command takes when an option is not given
        assert d.seed() == sample_command.DEFAULT_SEED
        assert (w.length_spin.value(), w.length_spin.maximum()) == (sample_command.TEXT_LENGTH, sample_command.TEXT_LENGTH_MAX)
        audio = d.view("audio")
        assert (audio.length_spin.minimum(), audio.length_spin.maximum()) == sample_command.AUDIO_SECONDS_RANGE
        assert audio.length_spin.decimals() == sample_command.AUDIO_DECIMALS
        assert d.settings() == sample_command.sampler_settings(sample_command.parse_args(["--mode", "text", "--out", "x.txt"]), "text", 65)

        d.set_prompt("to be")
        d.set_length(60)
        d.set_seed(5)
        d.set_temperature(0.737)
        d.set_top_k(9)
        d.set_top_p(0.93)
        d.generate_and_wait()
        assert d.view("text").save_text(str(tmp_path / "window.txt"))
        assert app_main(["sample", "--mode", "text", "--models", str(all_models), "--prompt", "to be", "--length", "60",
                         "--seed", "5", "--temperature", "0.737", "--top-k", "9", "--top-p", "0.93",
                         "--out", str(tmp_path / "command.txt")]) == 0
        assert (tmp_path / "command.txt").read_bytes() == (tmp_path / "window.txt").read_bytes()

        d.choose_mode("image")
        d.choose_digit(3)
        d.choose_grid("2 x 2")
        d.set_guidance(1.5)
        d.set_temperature(0.9)
        d.set_top_k(0)
        d.set_top_p(1.0)
        d.generate_and_wait()
        assert d.view("image").save_png(str(tmp_path / "window.png"))
        assert app_main(["sample", "--mode", "image", "--models", str(all_models), "--digit", "3", "--grid", "2x2",
                         "--guidance", "1.5", "--temperature", "0.9", "--seed", "5",
                         "--out", str(tmp_path / "command.png")]) == 0
        assert (tmp_path / "command.png").read_bytes() == (tmp_path / "window.png").read_bytes()

        d.choose_mode("audio")
        d.wait_for_sound_check()
        d.choose_digit(4)
        d.choose_speaker("bob")
        d.set_seconds(0.1)
        d.set_guidance(2.0)
        d.generate_and_wait()
        assert audio.save_wav(str(tmp_path / "window.wav"))
        assert app_main(["sample", "--mode", "audio", "--models", str(all_models), "--digit", "4", "--speaker", "bob",
                         "--length", "0.1", "--guidance", "2", "--temperature", "0.9", "--seed", "5",
                         "--out", str(tmp_path / "command.wav")]) == 0
        assert (tmp_path / "command.wav").read_bytes() == (tmp_path / "window.wav").read_bytes()
    finally:
        d.close()


def test_audio_lasts_as_long_as_the_windows_length_box_says_for_the_bundled_models_typical_words(qtbot):
    from pathlib import Path

    from arplayground import catalog

    models = Path(__file__).resolve().parents[2] / "models"
    d = WindowDriver.open(qtbot, models, "audio", show=False)
    try:
        entry = catalog.default_entry(catalog.discover(models), "audio")
        speaker = entry.card["speakers"][1]
        for digit, name in ((None, None), (4, None), (7, speaker)):  # None: "any"
            d.choose_digit(digit)
            d.choose_speaker(name or "any speaker")
            argv = ["--mode", "audio", "--out", "x.wav", "--digit", "any" if digit is None else str(digit)]
            args = sample_command.parse_args(argv + ["--speaker", name or "any"])
            _, _, samples = sample_command.audio_run(args, entry)
            assert samples == round(d.view("audio").length_spin.value() * 8000)
    finally:
        d.close()
