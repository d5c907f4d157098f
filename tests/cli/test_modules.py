"""The command line's rooms: one module per command family, each with ``add_parser`` and
thin handlers; errors and warnings told apart by class; help without torch."""

import argparse
import subprocess
import sys

import pytest

from asteroid_wsas import cli
from asteroid_wsas.cli import common
from asteroid_wsas.cli.common import show_warning, user_errors
from asteroid_wsas.separation.contract import MissingEncoderError, QueryWarning

FAMILIES = sorted({family for family, _ in cli.COMMANDS}, key=lambda m: m.__name__)


def test_every_command_is_listed_once_in_the_help_order():
    names = [command for _, command in cli.COMMANDS]
    assert len(names) == len(set(names)) == 17
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == names
    for family in FAMILIES:  # a family's commands are the ones it registers
        assert {c for f, c in cli.COMMANDS if f is family} == set(family.PARSERS)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda m: m.__name__.rpartition(".")[2])
def test_each_family_adds_its_parsers_and_handlers(family):
    parser = argparse.ArgumentParser(prog="asteroid-wsas")
    sub = parser.add_subparsers(dest="command")
    last = family.add_parser(sub)
    assert list(sub.choices) == list(family.PARSERS) and last is sub.choices[list(sub.choices)[-1]]
    for command in sub.choices.values():
        handler = command.get_default("func")
        assert handler.__module__ == family.__name__ and handler.__name__.startswith("cmd")


def test_help_of_every_command_imports_no_torch(tmp_path):
    """``asteroid-wsas <command> --help`` through the console script's launcher, every
    command in one interpreter: no torch, numpy or asteroid is imported."""
    commands = [command for _, command in cli.COMMANDS]
    code = (
        "import contextlib, io, sys, asteroid_wsas_cli\n"
        f"for command in {commands!r}:\n"
        "    sys.argv = ['asteroid-wsas', command, '--help']\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        try:\n            asteroid_wsas_cli.main()\n"
        "        except SystemExit as e:\n            assert e.code == 0, (command, e.code)\n"
        "    assert 'usage: asteroid-wsas ' + command in out.getvalue(), command\n"
        "print(','.join(m for m in ('torch', 'numpy', 'asteroid') if m in sys.modules) or '-')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "-"


def test_errors_are_matched_by_class_not_by_name():
    class Other(ValueError):  # any user error: one line
        pass

    with pytest.raises(SystemExit, match="^error: plain$"):
        with user_errors():
            raise Other("plain")
    with pytest.raises(SystemExit, match=r"error: m\.pth holds no encoder .*; or pass --encoder"):
        with user_errors(encoder_option=True):
            raise MissingEncoderError("m.pth")
    by_name = type("MissingEncoderError", (ValueError,), {})  # the name alone is not it
    with pytest.raises(SystemExit, match="^error: same name$"):
        with user_errors(encoder_option=True):
            raise by_name("same name")


def test_warnings_are_matched_by_class_not_by_name(capsys, monkeypatch):
    class Narrower(QueryWarning):
        pass

    show_warning("one line", Narrower, "f.py", 1)
    assert capsys.readouterr().err == "warning: one line\n"
    shown = []  # other warnings go to Python's own display
    monkeypatch.setattr(common, "python_show_warning", lambda *args: shown.append(args[:4]))
    by_name = type("QueryWarning", (UserWarning,), {})
    show_warning("python's way", by_name, "f.py", 7)
    assert shown == [("python's way", by_name, "f.py", 7)] and not capsys.readouterr().err


def test_recipes_find_their_helpers_where_they_were():
    for name in ("build_parser", "recipe_conf", "refuse_finished_run", "user_errors"):
        assert callable(getattr(cli, name))
    for name in ("encoder_of", "print_scores", "scoring_of", "separator_of", "main"):
        assert callable(getattr(cli, name))
