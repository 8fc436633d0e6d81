"""The analysts' notebooks (notebooks/*.ipynb) executed headless, top to bottom, against the
run history named by RECON_TEST_OUTPUT.

Each notebook runs from a temporary copy (nothing is written into notebooks/) in a fresh
kernel of the interpreter running pytest, with RECON_OUTPUT pointing at the history. Any
cell error fails the test. A probe cell appended to the copy reports what the notebook
computed (table sizes, chart axes), and the outputs are checked for charts (image/png),
tables and warnings. The executed copies stay in pytest's tmp_path for inspection.
"""
import json
import pathlib
import re
import shutil
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parents[3] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
PROBE_MARK = "__recon_probe__"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
DIMENSIONS = {"completeness", "validity", "uniqueness", "timeliness", "consistency", "integrity"}

# Per notebook: expressions evaluated in its kernel after the last cell (the probe), the
# minimum number of charts (image/png outputs) and of tables (text/html outputs).
EXPECTATIONS = {
    "01_scorecard_trends.ipynb": {
        "min_png": 2,
        "min_html": 5,
        "probe": {
            "output": "str(OUT.resolve())",
            "runs": "len(RUN_DATES)",
            "scorecard": "scorecard.height",
            "latest_scores": "latest_scores.height",
            "score_changes": "score_changes.height",
            "rates": "rates.height",
            "regression_columns": "regressions.columns",
            "regressions_are_regressions": "findings.filter(pl.col('finding_type') == 'regression').height == regressions.height",
            "dimension_charts": "[ax.get_title() for ax in fig_dimensions.axes if ax.get_visible()]",
            "dimension_charts_with_lines": "sum(1 for ax in fig_dimensions.axes if ax.get_visible() and ax.lines)",
            "overall_charts": "[ax.get_title() for ax in fig_overall.axes]",
        },
    },
    "02_duplicates_and_id_mismatches.ipynb": {
        "min_png": 0,
        "min_html": 6,
        "probe": {
            "output": "str(OUT.resolve())",
            "to_review": "to_review.height",
            "finding_types": "sorted(to_review['finding_type'].unique().to_list())",
            "findings_of_latest_run": "findings.filter(pl.col('finding_type').is_in(REVIEW_TYPES)).height",
            "records_of_findings": "sum(f.height for f in records_of_findings.values())",
            "side_by_side": "side_by_side.height",
            "side_by_side_findings": "side_by_side['finding'].n_unique()",
            "golden_values_found": "side_by_side['golden_from_source'].is_not_null().sum()",
            "evidence": "evidence.height",
            "comparisons": "comparisons.height",
            "nested_comparisons": "int(match_pairs['comparisons'].list.len().sum())",
            "review_queue": "review_queue.height",
            "review_summary": "review_summary.height",
            "review_comparisons": "review_comparisons.height",
            "nested_review_comparisons": "int(review_queue['comparisons'].list.len().sum())",
        },
    },
    "03_golden_lineage.ipynb": {
        "min_png": 3,
        "min_html": 6,
        "probe": {
            "output": "str(OUT.resolve())",
            "golden_entities": "sorted(golden)",
            "golden_records": "sum(f.height for f in golden.values())",
            "lineage_counts": "lineage_counts.height",
            "lineage_attributes": "lineage_counts.select('entity', 'attribute').unique().height",
            "golden_attributes": "sum(len(a) for a in ATTRIBUTES.values())",
            "lineage_adds_up": "all(int(lineage_counts.filter(pl.col('entity') == e)['golden_records'].sum())"
                               " == golden[e].height * len(ATTRIBUTES[e]) for e in golden)",
            "lineage_charts": "[ax.get_title() for ax in fig_lineage.axes]",
            "records_per_golden": "records_per_golden.height",
            "count_mismatches": "count_mismatches.height",
            "id_change_runs": "per_run.height",
            "id_registry": "id_registry.height",
        },
    },
}


def probe_source(expressions: dict) -> str:
    lines = ["import json as _probe_json", "_probe = {}"]
    lines += [f"_probe[{key!r}] = ({expr})" for key, expr in expressions.items()]
    lines.append(f"print({PROBE_MARK!r} + _probe_json.dumps(_probe, default=str))")
    return "\n".join(lines)


@pytest.fixture
def kernel_env(monkeypatch, tmp_path, recon_output):
    """RECON_OUTPUT for the kernel, and a python3 kernelspec that runs this interpreter
    (JUPYTER_PATH comes first in the search, before any user or system kernelspec)."""
    monkeypatch.setenv("RECON_OUTPUT", str(recon_output))
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))


def execute(notebook, workdir, probe):
    """Run a copy of `notebook` in `workdir` with `probe` appended; return the executed
    notebook, the probe's values and the seconds taken."""
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / notebook.name
    shutil.copyfile(notebook, copy)
    nb = nbformat.read(copy, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(probe_source(probe)))
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    started = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as err:
        nbformat.write(nb, workdir / f"failed-{notebook.name}")
        message = ANSI_ESCAPE.sub("", str(err))
        pytest.fail(f"{notebook.name} failed (executed copy in {workdir}):\n{message}", pytrace=False)
    finally:
        seconds = time.monotonic() - started
    nbformat.write(nb, workdir / f"executed-{notebook.name}")
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    marked = [line for line in printed.splitlines() if line.startswith(PROBE_MARK)]
    assert marked, f"the probe printed nothing: {nb.cells[-1].outputs}"
    return nb, json.loads(marked[-1][len(PROBE_MARK):]), seconds


def outputs_of(nb):
    """Every output of the notebook's own cells (the probe excluded)."""
    return [o for cell in nb.cells[:-1] if cell.cell_type == "code" for o in cell.outputs]


def test_the_analysts_notebooks_are_all_there():
    assert [p.name for p in NOTEBOOKS] == sorted(EXPECTATIONS), (
        "notebooks/ and EXPECTATIONS in this test disagree: add a new notebook's checks here"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(notebook, tmp_path, kernel_env, recon_output, run_dirs):
    expected = EXPECTATIONS[notebook.name]
    nb, probe, seconds = execute(notebook, tmp_path / "notebooks", expected["probe"])
    print(f"{notebook.name}: executed in {seconds:.1f} s against {len(run_dirs)} run(s)")

    outputs = outputs_of(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(pngs) >= expected["min_png"], f"{len(pngs)} charts, expected at least {expected['min_png']}"
    assert all(len(o["data"]["image/png"]) > 2000 for o in pngs), "an empty-looking chart"
    assert len(tables) >= expected["min_html"], f"{len(tables)} tables, expected at least {expected['min_html']}"
    stderr = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert not re.search(r"\w*(Warning|Error)\b", stderr), f"the notebook wrote warnings:\n{stderr}"

    # The parameter cell read RECON_OUTPUT, not its default.
    assert probe["output"] == str(recon_output)
    check = CHECKS[notebook.name]
    check(probe, run_dirs)


def check_scorecard_trends(probe, run_dirs):
    assert probe["runs"] == len(run_dirs), "a scorecard for every run"
    for table in ["scorecard", "latest_scores", "score_changes", "rates"]:
        assert probe[table] > 0, f"{table} is empty"
    assert {"run_date", "source", "metric", "kind", "detail"} <= set(probe["regression_columns"])
    assert probe["regressions_are_regressions"]
    assert DIMENSIONS <= set(probe["dimension_charts"]), probe["dimension_charts"]
    assert probe["dimension_charts_with_lines"] >= 1
    assert probe["overall_charts"] == ["overall score", "quarantine rate", "duplicate rate"]


def check_duplicates_and_id_mismatches(probe, run_dirs):
    assert probe["to_review"] > 0, "the demo has duplicates and ID mismatches to review"
    assert probe["to_review"] == probe["findings_of_latest_run"]
    assert probe["finding_types"] == ["duplicate", "id_mismatch"]
    assert probe["records_of_findings"] >= probe["to_review"], "every finding joined to its source record"
    assert probe["side_by_side"] > 0
    assert probe["side_by_side_findings"] == probe["to_review"], "every finding side by side"
    assert probe["golden_values_found"] > 0, "records reach their golden record through the crosswalk"
    assert probe["evidence"] > 0, "the match evidence of the matched findings"
    assert probe["comparisons"] == probe["nested_comparisons"], "every nested comparison unnested"
    assert probe["review_summary"] == probe["review_queue"]
    assert probe["review_comparisons"] == probe["nested_review_comparisons"]


def check_golden_lineage(probe, run_dirs):
    assert probe["golden_entities"], "golden tables"
    assert probe["lineage_counts"] > 0
    assert probe["lineage_attributes"] == probe["golden_attributes"], "every golden attribute has its lineage"
    assert probe["lineage_adds_up"], "each attribute's winning sources add up to the golden records"
    assert len(probe["lineage_charts"]) == len(probe["golden_entities"]), "a lineage chart per entity"
    assert probe["records_per_golden"] > 0
    assert probe["count_mismatches"] == 0, "crosswalk and golden tables agree on record counts"
    assert probe["id_change_runs"] == len(run_dirs), "a row of id changes per run"
    assert probe["id_registry"] > 0


CHECKS = {
    "01_scorecard_trends.ipynb": check_scorecard_trends,
    "02_duplicates_and_id_mismatches.ipynb": check_duplicates_and_id_mismatches,
    "03_golden_lineage.ipynb": check_golden_lineage,
}
