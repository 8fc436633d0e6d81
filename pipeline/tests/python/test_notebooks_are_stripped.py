"""The committed notebooks carry no outputs (they would hold personal data from whatever
output directory they last ran on, and make every diff noisy), and each takes its output
directory from one tagged parameters cell. Needs no run history.

After working in Jupyter, clear the outputs before saving (Edit > Clear Outputs of All
Cells), or run `jupyter nbconvert --clear-output --inplace notebooks/NAME.ipynb` where
nbconvert is installed."""
import pathlib
import re

import nbformat
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
PARAMETER_LINE = 'OUTPUT = os.environ.get("RECON_OUTPUT", "../out/demo")'


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    dirty = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            assert not cell.get("outputs"), f"cell {index}"
            continue
        if cell.outputs:
            dirty.append(f"cell {index}: {len(cell.outputs)} output(s)")
        if cell.execution_count is not None:
            dirty.append(f"cell {index}: execution_count {cell.execution_count}")
        if "execution" in cell.metadata:
            dirty.append(f"cell {index}: execution timings in its metadata")
    assert dirty == [], f"{path.name} is not stripped: {dirty}"
    # No widget state or other leftovers of a session in the notebook's metadata.
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, set(nb.metadata)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_one_parameters_cell_sets_the_output(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged `parameters` (papermill convention)"
    assert tagged[0] is code[0], "the parameters cell is the first code cell"
    assert PARAMETER_LINE in tagged[0].source
    others = "\n".join(c.source for c in code[1:])
    assert "os.environ" not in others and not re.search(r"^OUTPUT\s*=", others, re.M), (
        "only the parameters cell decides the output directory"
    )


def test_requirements_are_pinned():
    lines = [
        line.split("#")[0].strip()
        for line in (REPO_ROOT / "notebooks" / "requirements.txt").read_text().splitlines()
    ]
    requirements = [line for line in lines if line]
    assert requirements
    loose = [r for r in requirements if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+!\-]+", r)]
    assert loose == [], "pin exact versions (==)"
    names = {r.split("==")[0].lower() for r in requirements}
    assert {"polars", "pyarrow", "duckdb", "matplotlib", "nbclient", "nbformat", "ipykernel", "pytest"} <= names
