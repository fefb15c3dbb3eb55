"""Where the data, the shipped checkpoints and the user's runs are looked for."""

from pathlib import Path

from mnist_core import paths


def test_each_folder_comes_from_its_environment_variable_else_the_base(monkeypatch, tmp_path):
    for name in (paths.DATA_DIR_ENV, paths.RUNS_DIR_ENV, paths.CHECKPOINTS_DIR_ENV):
        monkeypatch.delenv(name, raising=False)
    assert paths.checkpoints_dir() == Path("checkpoints") and paths.user_runs_dir() == Path("runs")
    assert paths.checkpoints_dir(tmp_path) == tmp_path / "checkpoints"
    assert paths.user_runs_dir(tmp_path) == tmp_path / "runs"
    assert paths.data_dir() == Path("data") and paths.data_dir(tmp_path / "x") == tmp_path / "x"
    assert paths.data_dir(base=tmp_path) == tmp_path / "data"

    monkeypatch.setenv(paths.CHECKPOINTS_DIR_ENV, str(tmp_path / "ship"))
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path / "mine"))
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "mnist"))
    assert paths.checkpoints_dir(tmp_path / "ignored") == tmp_path / "ship"
    assert paths.user_runs_dir(tmp_path / "ignored") == tmp_path / "mine"
    assert paths.data_dir() == tmp_path / "mnist"
    assert paths.data_dir(tmp_path / "explicit") == tmp_path / "explicit"  # an explicit folder wins


def test_the_library_does_not_know_where_the_repository_is():
    library = Path(paths.__file__).parent
    for module in library.glob("*.py"):
        text = module.read_text()
        assert "__file__" not in text, f"{module.name} locates files relative to the library"
