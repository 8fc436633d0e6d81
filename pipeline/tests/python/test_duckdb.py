"""DuckDB reads recon's Parquet outputs as analysts query them: globs over the run
history, joins across tables, the nested match evidence, and the same row counts as
pyarrow (and as the run's manifest.json) for every table file of the latest run."""
import json

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

# Tables written by every run; all of them but staged/ and id_registry carry run_date.
TABLES = [
    "quarantine", "violations", "rule_results", "match_pairs", "clusters", "review_queue",
    "golden_customer", "golden_product", "crosswalk", "id_changes", "id_registry",
    "findings", "scorecard",
]
WITHOUT_RUN_DATE = {"id_registry"}


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def runs_glob(output, table):
    return str(output / "run_date=*" / f"{table}.parquet")


def test_scorecard_glob_has_rows_for_every_run(con, recon_output, run_dates):
    # As an analyst writes it: no options. DuckDB detects the run_date=… folders as a hive
    # partition and keeps the in-file run_date column (a DATE).
    rows = con.execute(
        "SELECT CAST(run_date AS VARCHAR) AS run_date, count(*) AS n, count(DISTINCT source) AS sources "
        "FROM read_parquet(?) GROUP BY ALL ORDER BY 1",
        [runs_glob(recon_output, "scorecard")],
    ).fetchall()
    assert [r[0] for r in rows] == run_dates
    assert all(n > 0 and sources > 0 for _, n, sources in rows)
    kind = con.execute(
        "SELECT typeof(run_date) FROM read_parquet(?) LIMIT 1", [runs_glob(recon_output, "scorecard")]
    ).fetchone()[0]
    assert kind == "DATE"


@pytest.mark.parametrize("table", sorted(set(TABLES) - WITHOUT_RUN_DATE))
def test_in_file_run_date_matches_the_folder(con, recon_output, run_dirs, table):
    """With hive partitioning off, the run_date inside each file is its folder's date."""
    rows = con.execute(
        "SELECT filename, list(DISTINCT CAST(run_date AS VARCHAR)) "
        "FROM read_parquet(?, hive_partitioning = false, filename = true) GROUP BY filename",
        [runs_glob(recon_output, table)],
    ).fetchall()
    for filename, dates in rows:
        folder = next(p for p in filename.split("/") if p.startswith("run_date="))
        assert dates == [folder.removeprefix("run_date=")], filename
    # Files with no rows (e.g. an empty review queue) have no run_date to compare.
    nonempty = sum(pq.ParquetFile(p / f"{table}.parquet").metadata.num_rows > 0 for p in run_dirs)
    assert len(rows) == nonempty


def test_join_crosswalk_golden_customer_findings(con, recon_output, run_dates):
    params = [runs_glob(recon_output, t) for t in ("crosswalk", "golden_customer", "findings")]
    joined = con.execute(
        """
        SELECT CAST(x.run_date AS VARCHAR) AS run_date, f.finding_type, f.kind, x.source, x.record_key,
               g.golden_id, g.name
        FROM read_parquet(?) AS x
        JOIN read_parquet(?) AS g ON g.golden_id = x.golden_id AND g.run_date = x.run_date
        JOIN read_parquet(?) AS f ON f.golden_id = x.golden_id AND f.run_date = x.run_date
                                 AND f.source = x.source AND f.record_key = x.record_key
        WHERE x.entity = 'customer'
        """,
        params,
    ).fetchall()
    assert joined, "customer findings reach their golden record through the crosswalk"
    assert sorted({r[0] for r in joined}) == run_dates, "in every run"
    assert all(r[6] for r in joined), "golden records have a name"

    # Integrity both ways: no customer finding or crosswalk row without its golden record.
    orphans = con.execute(
        """
        SELECT 'finding' AS what, f.run_date, f.golden_id FROM read_parquet(?) AS f
        WHERE f.entity = 'customer' AND f.golden_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM read_parquet(?) AS g
                          WHERE g.golden_id = f.golden_id AND g.run_date = f.run_date)
        UNION ALL
        SELECT 'crosswalk', x.run_date, x.golden_id FROM read_parquet(?) AS x
        WHERE x.entity = 'customer'
          AND NOT EXISTS (SELECT 1 FROM read_parquet(?) AS g
                          WHERE g.golden_id = x.golden_id AND g.run_date = x.run_date)
        """,
        [params[2], params[1], params[0], params[1]],
    ).fetchall()
    assert orphans == []


def test_nested_comparisons_unnest(con, latest_run_dir):
    path = str(latest_run_dir / "match_pairs.parquet")
    table = pq.read_table(path)
    assert table.num_rows > 0, "the demo has scored pairs"
    nested = pc.sum(pc.list_value_length(table.column("comparisons"))).as_py()

    columns = [d[0] for d in con.execute(
        "DESCRIBE SELECT unnest(comparisons, recursive := true) FROM read_parquet(?)", [path]
    ).fetchall()]
    assert columns == ["comparison", "level", "label", "weight", "value_l", "value_r"]
    count, pairs = con.execute(
        """
        SELECT count(*), count(DISTINCT (source_l, record_key_l, source_r, record_key_r))
        FROM (SELECT source_l, record_key_l, source_r, record_key_r,
                     unnest(comparisons, recursive := true)
              FROM read_parquet(?))
        """,
        [path],
    ).fetchone()
    assert count == nested
    assert pairs > 0
    # The unnested weights belong to their pair: a pair's match weight is its comparisons'
    # weights plus the entity's prior, the same for every pair of the entity.
    spread = con.execute(
        """
        SELECT entity, max(match_weight - w) - min(match_weight - w)
        FROM (SELECT entity, match_weight, list_sum([c.weight FOR c IN comparisons]) AS w
              FROM read_parquet(?))
        GROUP BY entity
        """,
        [path],
    ).fetchall()
    assert spread and all(abs(s) < 1e-6 for _, s in spread), spread


def test_row_counts_match_pyarrow_and_manifest(con, latest_run_dir):
    files = sorted(latest_run_dir.glob("*.parquet")) + sorted((latest_run_dir / "staged").glob("*.parquet"))
    names = {str(p.relative_to(latest_run_dir)) for p in files}
    assert {f"{t}.parquet" for t in TABLES} <= names, "every table of the run"
    assert any(n.startswith("staged/") for n in names)

    manifest = json.loads((latest_run_dir / "manifest.json").read_text())
    manifest_rows = {o["path"]: o["rows"] for o in manifest["outputs"] if o["rows"] is not None}

    counts = {}
    for path in files:
        name = str(path.relative_to(latest_run_dir))
        duck = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
        arrow = pq.read_table(path).num_rows
        metadata = pq.ParquetFile(path).metadata.num_rows
        counts[name] = (duck, arrow, metadata, manifest_rows.get(name))
    mismatched = {n: c for n, c in counts.items() if len(set(c)) != 1}
    assert mismatched == {}, "(duckdb, pyarrow, parquet metadata, manifest) per file"
