#!/usr/bin/env python3
"""Read a bouncestat dataset back with DuckDB, polars and pyarrow, the way users will.

Not run by `cargo test`. Run it by hand after changing the sink:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install duckdb polars pyarrow
    rm -rf /tmp/sample
    BOUNCESTAT_SAMPLE_OUT=/tmp/sample cargo test --lib write_sample_dataset -- --ignored
    /tmp/venv/bin/python tests/readback.py /tmp/sample --sample

Without `--sample` it only checks the types and that the three engines agree on the totals,
so it can be pointed at any dataset `ingest` wrote.
"""

import datetime
import sys

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds

TABLES = ["attempts", "by_code", "by_provider", "by_domain"]
COUNTS = ["delivered", "deferred", "bounced", "expired"]


def duckdb_read(out, table):
    return f"read_parquet('{out}/{table}/*/*.parquet', hive_partitioning = true)"


def check_types(out):
    con = duckdb.connect()
    types = {r[0]: r[1] for r in con.sql(f"describe select * from {duckdb_read(out, 'attempts')}").fetchall()}
    assert types["date"] == "DATE", types
    assert types["hour"] == "TIMESTAMP WITH TIME ZONE", types
    assert types["attempts"] == "BIGINT", types
    assert types["reply_code"] == "SMALLINT", types
    assert types["bounce_message"] == "BOOLEAN", types
    for table in TABLES[1:]:
        described = {r[0]: r[1] for r in con.sql(f"describe select * from {duckdb_read(out, table)}").fetchall()}
        assert described["date"] == "DATE", (table, described)
        for name in COUNTS:
            assert described[name] == "BIGINT", (table, described)
        assert described["bounce_rate"] == "DOUBLE", (table, described)

    schema = pl.scan_parquet(f"{out}/attempts/", hive_partitioning=True).collect_schema()
    assert schema["date"] == pl.Date, schema
    assert schema["hour"] == pl.Datetime("us", "UTC"), schema
    assert schema["attempts"] == pl.Int64, schema
    assert schema["reply_code"] == pl.Int16, schema
    assert list(schema.keys()).count("date") == 1, schema


def totals(out):
    """(date, attempts) per day from each engine; they must agree."""
    con = duckdb.connect()
    by_duckdb = con.sql(
        f"select date, sum(attempts) from {duckdb_read(out, 'attempts')} group by date order by date"
    ).fetchall()
    by_polars = (
        pl.scan_parquet(f"{out}/attempts/", hive_partitioning=True)
        .group_by("date")
        .agg(pl.col("attempts").sum())
        .sort("date")
        .collect()
        .rows()
    )
    partitioning = ds.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")
    table = ds.dataset(f"{out}/attempts", format="parquet", partitioning=partitioning).to_table()
    by_arrow = sorted(
        (row["date"], row["attempts_sum"])
        for row in table.group_by("date").aggregate([("attempts", "sum")]).to_pylist()
    )
    assert by_duckdb == by_polars == by_arrow, (by_duckdb, by_polars, by_arrow)
    return by_duckdb


def check_sample(out):
    day_1, day_2 = datetime.date(2026, 11, 27), datetime.date(2026, 11, 28)
    assert totals(out) == [(day_1, 11), (day_2, 3)], totals(out)
    con = duckdb.connect()
    rows = con.sql(
        f"""select date, provider, delivered, deferred, bounced, expired, bounce_rate, deferral_rate
            from {duckdb_read(out, 'by_provider')} order by date, provider"""
    ).fetchall()
    assert rows == [
        (day_1, "google", 3, 4, 1, 0, 0.25, 0.5),
        (day_1, "other", 1, 0, 0, 1, 0.5, 0.0),
        (day_2, "microsoft", 2, 0, 1, 0, 1 / 3, 0.0),
    ], rows
    # The rollups agree with the cube once bounce messages are left out.
    cube = con.sql(
        f"""select provider, outcome, sum(attempts) from {duckdb_read(out, 'attempts')}
            where not bounce_message group by all order by all"""
    ).fetchall()
    rolled = (
        pl.scan_parquet(f"{out}/by_provider/", hive_partitioning=True)
        .group_by("provider")
        .agg([pl.col(c).sum() for c in COUNTS])
        .collect()
    )
    for provider, outcome, count in cube:
        value = rolled.filter(pl.col("provider") == provider)[outcome].item()
        assert value == count, (provider, outcome, value, count)
    # A filter on the partition column prunes to one day.
    day = (
        pl.scan_parquet(f"{out}/by_code/", hive_partitioning=True)
        .filter(pl.col("date") == day_2)
        .collect()
    )
    assert day["reply_code"].to_list() == [250, 550], day


def doc_snippets(out):
    """The snippets of docs/schema.md, verbatim except for the dataset path."""
    con = duckdb.connect()
    by_provider = con.sql(
        f"""
SELECT date, provider,
       sum(delivered) AS delivered, sum(bounced + expired) AS failed,
       sum(bounced + expired) / nullif(sum(delivered + bounced + expired), 0) AS bounce_rate
FROM read_parquet('{out}/by_provider/*/*.parquet', hive_partitioning = true)
WHERE date >= DATE '2026-11-27'
GROUP BY ALL ORDER BY ALL;
"""
    ).fetchall()
    cube = con.sql(
        f"""
SELECT provider, outcome, sum(attempts)
FROM read_parquet('{out}/attempts/*/*.parquet', hive_partitioning = true)
WHERE NOT bounce_message
GROUP BY ALL ORDER BY ALL;
"""
    ).fetchall()

    attempts = pl.scan_parquet(f"{out}/attempts/", hive_partitioning=True)
    per_day = attempts.group_by("date").agg(pl.col("attempts").sum()).sort("date").collect()

    one_day = (
        pl.scan_parquet(f"{out}/by_code/", hive_partitioning=True)
        .filter(pl.col("date") == datetime.date(2026, 11, 28))
        .collect()
    )

    partitioning = ds.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")
    table = ds.dataset(f"{out}/attempts", format="parquet", partitioning=partitioning).to_table()
    assert table.schema.field("date").type == pa.date32()
    return by_provider, cube, per_day, one_day


def main():
    out = sys.argv[1]
    check_types(out)
    print("per-day attempts (duckdb = polars = pyarrow):", totals(out))
    by_provider, cube, per_day, one_day = doc_snippets(out)
    if "--sample" in sys.argv[2:]:
        check_sample(out)
        day_1 = datetime.date(2026, 11, 27)
        assert by_provider[0] == (day_1, "google", 3, 1, 0.25), by_provider
        assert per_day["attempts"].to_list() == [11, 3], per_day
        assert one_day.height == 2, one_day
        print("sample values: ok")
    print(
        "versions: duckdb", duckdb.__version__, "polars", pl.__version__, "pyarrow", pa.__version__
    )


if __name__ == "__main__":
    main()
