"""A missing extra names the command that installs it from where prunebook comes from (a
checkout of the book or a wheel built there: the package is not on PyPI)."""

import pytest

from prunebook.extras import missing_extra, require


def test_a_missing_extra_names_the_checkout_command():
    with pytest.raises(ImportError, match=r"pip install '\.\[envs\]' from a checkout") as error:
        require("envs", "prunebook_no_such_module")
    assert "prunebook_no_such_module" in str(error.value)
    assert ".whl[envs]" in str(error.value)  # the wheel's case, said beside it
    assert "pip install 'prunebook[" not in str(error.value)  # no index has it


def test_missing_extra_wraps_the_import_error():
    error = missing_extra("analysis", ImportError("no scipy", name="scipy"))
    assert str(error).startswith("scipy is missing") and "pip install '.[analysis]'" in str(error)
