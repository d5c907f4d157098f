"""The contract: one query check for the library, the command line and the export, and the
user-facing classes, all without torch."""

import os
import subprocess
import sys

import numpy as np
import pytest

from asteroid_wsas.export_spec import check_text_queries
from asteroid_wsas.separation.contract import (
    QueryError,
    check_queries,
    image_path,
    missing_images,
)
from asteroid_wsas.separation.queries import resolve_queries


def test_the_contract_imports_without_torch(tmp_path):
    code = (
        "import sys, asteroid_wsas_cli\n"
        "asteroid_wsas_cli.LAUNCHING = True  # as the console script starts the package\n"
        "import asteroid_wsas.separation.contract, asteroid_wsas.export_spec\n"
        "print(','.join(m for m in ('torch', 'numpy') if m in sys.modules) or '-')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "-"


@pytest.mark.parametrize(
    "queries,kwargs,reason,message",
    [
        ([], {}, "none", "queries must hold at least one query"),
        (["a dog", " "], {}, "empty", r"queries\[1\] is an empty text"),
        ([3.5], {}, "type", r"queries\[0\] must be a text or an image"),
        (["image:/no/such.png"], {}, "missing", r"queries\[0\]: image file not found"),
        (["image:x.png"], dict(texts_only=True), "image", "export takes texts"),
        ([np.zeros((2, 2, 3))], dict(texts_only=True), "image", "cannot be exported"),
    ],
)
def test_one_check_names_the_argument_and_the_reason(queries, kwargs, reason, message):
    with pytest.raises(QueryError, match=message) as caught:
        check_queries(queries, "queries", **kwargs)
    assert caught.value.reason == reason and caught.value.argument == "queries"
    assert isinstance(caught.value, ValueError)


def test_every_caller_asks_the_same_check(tmp_path):
    for call in (
        lambda q: resolve_queries(q, "queries"),  # the library
        lambda q: check_text_queries(q, "queries"),  # the export
        lambda q: check_queries(q, "queries", find_images=False),  # the command line
    ):
        with pytest.raises(QueryError, match=r"queries\[1\] is an empty text"):
            call(["a dog", ""])
    picture = tmp_path / "p.png"
    picture.write_bytes(b"")
    pictures = [f"image:{picture}", "image:/no/such.png", "a cello"]
    assert check_queries(pictures[::2], "queries") == pictures[::2]
    assert check_queries(pictures, "queries", find_images=False) == pictures
    assert missing_images(pictures) == ["/no/such.png"]
    assert image_path(pictures[0]) == os.fspath(picture) and image_path("a cello") is None


def test_one_query_is_a_list_of_one():
    assert check_queries("a dog", "q") == ["a dog"]
    single = np.zeros((4, 4, 3), np.uint8)
    assert check_queries(single, "q")[0] is single  # an array is one picture, not rows
    assert check_queries(None, "q", allow_empty=True) == []
