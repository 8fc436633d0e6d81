"""Shared fixtures of the Python tests over recon's Parquet outputs.

The tests read a run history that the real binary wrote: the environment variable
RECON_TEST_OUTPUT names its output directory (the folder holding run_date=YYYY-MM-DD/).
scripts/test.sh builds one from the demo fixtures; by hand:

    for d in 2026-11-17 2026-11-18 2026-11-19 2026-11-20; do
      ./target/debug/recon -q run --config fixtures/demo/recon.toml --as-of $d --output /tmp/hist
    done
    RECON_TEST_OUTPUT=/tmp/hist .venv/bin/python -m pytest pipeline/tests/python

Without RECON_TEST_OUTPUT the tests that need it fail (they do not skip).
"""
import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def recon_output() -> pathlib.Path:
    """The run history under test (absolute path), from RECON_TEST_OUTPUT."""
    value = os.environ.get("RECON_TEST_OUTPUT")
    if not value:
        pytest.fail(
            "RECON_TEST_OUTPUT is not set: it must name a recon output directory holding "
            "run_date=YYYY-MM-DD/ runs (scripts/test.sh builds one from fixtures/demo)",
            pytrace=False,
        )
    path = pathlib.Path(value).expanduser().resolve()
    if not path.is_dir():
        pytest.fail(f"RECON_TEST_OUTPUT={value!r} is not a directory", pytrace=False)
    return path


@pytest.fixture(scope="session")
def run_dirs(recon_output) -> list[pathlib.Path]:
    """Every committed run directory, oldest first (ISO dates sort chronologically).
    Unfinished runs live in .tmp-run_date=… and are not matched."""
    runs = sorted(p for p in recon_output.glob("run_date=*") if p.is_dir())
    if not runs:
        pytest.fail(f"no run_date=YYYY-MM-DD directory under {recon_output}", pytrace=False)
    return runs


@pytest.fixture(scope="session")
def run_dates(run_dirs) -> list[str]:
    return [p.name.removeprefix("run_date=") for p in run_dirs]


@pytest.fixture(scope="session")
def latest_run_dir(run_dirs) -> pathlib.Path:
    return run_dirs[-1]
