#!/usr/bin/env python3
"""Runs betledger's ClickHouse SQL, as committed, on current ClickHouse.

    target/chdb-venv/bin/python scripts/clickhouse_current.py REPO_ROOT

The Rust tests run everything on ClickHouse 18.16 (the minimum); this runs
the same files on the ClickHouse that chdb-core embeds (pinned in
scripts/lib.sh, ensure_chdb), in process, so that SQL which only 18.16
accepts is caught without a server. It applies every schemas/clickhouse/*.sql,
inserts the sample rows below twice (so FINAL has copies to fold), runs
every schemas/clickhouse/reports/*.sql over two ranges, rendered as
projections/src/clickhouse/reports.rs `render` does, and
projections/src/clickhouse/account_sums.sql at two positions, and compares
the rows with the ones worked out by hand from the sample rows (EXPECTED).

Prints one line per statement; exits 1 naming the file and ClickHouse's
error when a statement fails or its rows differ, and when a report has no
expected rows here (add them with the report).
"""
import json
import sys
import tempfile
from pathlib import Path

from chdb import session as chdb_session

NOV = ("2026-11-01 00:00:00", "2026-12-01 00:00:00")
# reports.rs `ReportParams::everything`: the widest range betledger sends.
ALL_TIME = ("1970-01-01 00:00:00", "2100-01-01 00:00:00")
D = "2026-11-15"

# ---- sample rows, in log order (positions rise with time) ----------------
# One wallet day: deposits, three bets (won, lost, voided), a box office
# purchase with a refund, a hold that expires, two pools, a withdrawal, and
# one deposit before and one after November.


def transfer(pos, time, etype, tid, debit, credit, amount, code, phase, cur="EUR"):
    """Both legs of a transfer, as the sink writes them into `postings`."""
    row = dict(position=pos, time=time, event_type=etype, transfer_id=tid,
               currency=cur, code=code, phase=phase)
    return [dict(row, leg=0, account=debit, counterparty=credit, amount=-amount),
            dict(row, leg=1, account=credit, counterparty=debit, amount=amount)]


BO = "box-office:revenue"
postings = [leg for legs in [
    transfer(1, "2026-10-20 09:00:00", "funds_deposited", "d1", "cash", "ann", 3000, "deposit", "posted"),
    transfer(4, f"{D} 08:00:00", "funds_deposited", "d4", "cash", "ann", 10000, "deposit", "posted"),
    transfer(5, f"{D} 08:05:00", "funds_deposited", "d5", "cash", "bob", 5000, "deposit", "posted"),
    transfer(6, f"{D} 09:00:00", "bet_placed", "b1", "ann", "house", 1000, "stake", "pending"),
    transfer(7, f"{D} 09:10:00", "bet_placed", "b2", "bob", "house", 500, "stake", "pending"),
    transfer(8, f"{D} 09:20:00", "bet_placed", "b3", "bob", "house", 300, "stake", "pending"),
    transfer(9, f"{D} 09:59:00", "seats_reserved", "r1", "ann", BO, 2997, "ticket", "pending"),
    transfer(10, f"{D} 10:00:05", "seats_purchased", "r1", "ann", BO, 2997, "ticket", "pending_posted"),
    transfer(11, f"{D} 10:00:30", "seats_reserved", "r2", "ann", BO, 2500, "ticket", "pending"),
    transfer(12, f"{D} 10:00:50", "seats_reserved", "r3", "carol", BO, 3000, "ticket", "pending", "GBP"),
    transfer(13, f"{D} 10:01:10", "seats_purchased", "r3", "carol", BO, 3000, "ticket", "pending_posted", "GBP"),
    transfer(14, f"{D} 10:02:30", "ticket_refunded", "f14", BO, "ann", 999, "ticket_refund", "posted"),
    # 15: a refund of an r3 ticket that paid nothing: no transfer.
    transfer(16, f"{D} 10:10:00", "seats_expired", "r2", "ann", BO, 2500, "ticket", "pending_voided"),
    transfer(17, f"{D} 11:00:00", "pool_entered", "p17", "ann", "pool:derby", 1000, "pool_entry", "posted"),
    transfer(18, f"{D} 11:30:00", "pool_entered", "p18", "bob", "pool:cup", 400, "pool_entry", "posted"),
    transfer(19, f"{D} 18:00:00", "pool_paid", "p19", "pool:derby", "ann", 900, "pool_payout", "posted"),
    transfer(20, f"{D} 18:00:01", "pool_rake_taken", "p20", "pool:derby", "fees:rake", 100, "rake", "posted"),
    transfer(21, f"{D} 20:00:00", "bet_settled", "b1", "ann", "house", 1000, "stake", "pending_posted"),
    transfer(22, f"{D} 20:00:01", "bet_paid", "b1p", "house", "ann", 2500, "payout", "posted"),
    transfer(23, f"{D} 20:00:02", "bet_settled", "b2", "bob", "house", 500, "stake", "pending_posted"),
    transfer(24, f"{D} 21:00:00", "bet_voided", "b3", "bob", "house", 300, "stake", "pending_voided"),
    transfer(25, "2026-11-16 12:00:00", "funds_withdrawn", "w25", "ann", "cash", 2000, "withdrawal", "posted"),
    transfer(26, "2026-12-02 10:00:00", "funds_deposited", "d26", "cash", "bob", 777, "deposit", "posted"),
] for leg in legs]


def bet(pos, time, etype, bet_id, account, market="", outcome=0, legs=0, odds=0, stake=0, payout=0, code="stake"):
    return dict(position=pos, time=f"{D} {time}", event_type=etype, bet_id=bet_id, account=account,
                currency="EUR", market=market, outcome=outcome, legs=legs, odds=odds,
                stake=stake, payout=payout, code=code)


bets = [
    bet(6, "09:00:00", "bet_placed", "b1", "ann", "derby-winner", 1, 1, 25000, stake=1000),
    bet(7, "09:10:00", "bet_placed", "b2", "bob", "cup-final", 2, 2, 41000, stake=500),
    bet(8, "09:20:00", "bet_placed", "b3", "bob", "cup-final", 1, 1, 18000, stake=300),
    bet(21, "20:00:00", "bet_settled", "b1", "ann", "derby-winner", stake=1000),
    # A payment carries no market: reports take it from its bet_placed row.
    bet(22, "20:00:01", "bet_paid", "b1", "ann", payout=2500, code="payout"),
    bet(23, "20:00:02", "bet_settled", "b2", "bob", "cup-final", stake=500),
    bet(24, "21:00:00", "bet_voided", "b3", "bob", "cup-final", stake=300),
]


def pool(pos, time, etype, pool_id, outcome, account, amount=0, rake=0, paid=0):
    return dict(position=pos, time=f"{D} {time}", event_type=etype, pool_id=pool_id, outcome=outcome,
                account=account, currency="EUR", amount=amount, rake=rake, paid=paid)


pool_entries = [
    pool(17, "11:00:00", "pool_entered", "derby", 2, "ann", amount=1000),
    pool(18, "11:30:00", "pool_entered", "cup", 1, "bob", amount=400),
    pool(19, "18:00:00", "pool_paid", "derby", 0, "ann", paid=900),
    pool(20, "18:00:01", "pool_rake_taken", "derby", 0, "fees:rake", rake=100),
]

show_tiers = [
    dict(position=2, tier=0, time="2026-11-01 12:00:00", show_id="gala", name="stalls", capacity=4, currency="EUR"),
    dict(position=2, tier=1, time="2026-11-01 12:00:00", show_id="gala", name="circle", capacity=50, currency="EUR"),
    dict(position=3, tier=0, time="2026-11-02 12:00:00", show_id="opera", name="balcony", capacity=10, currency="GBP"),
]


def reservation(pos, time, rid, show, tier, seats, unit_price, account):
    return dict(position=pos, time=f"{D} {time}", reservation_id=rid, show_id=show, tier=tier,
                seats=seats, unit_price=unit_price, account=account)


show_reservations = [
    reservation(9, "09:59:00", "r1", "gala", 1, 3, 999, "ann"),
    reservation(11, "10:00:30", "r2", "gala", 0, 1, 2500, "ann"),  # expires: no tickets
    reservation(12, "10:00:50", "r3", "opera", 0, 2, 1500, "carol"),
]


def ticket(pos, seat, time, etype, show, rid, account, currency, price, refunded):
    return dict(position=pos, seat=seat, time=f"{D} {time}", event_type=etype, show_id=show,
                reservation_id=rid, ticket_id=f"{rid}-{seat}", account=account,
                currency=currency, price=price, refunded=refunded)


ticket_sales = [
    *(ticket(10, s, "10:00:05", "seats_purchased", "gala", "r1", "ann", "EUR", 999, 0) for s in range(3)),
    *(ticket(13, s, "10:01:10", "seats_purchased", "opera", "r3", "carol", "GBP", 1500, 0) for s in range(2)),
    ticket(14, 0, "10:02:30", "ticket_refunded", "gala", "r1", "ann", "EUR", 999, 1),
    # A refund that paid nothing: price 0 and no currency of its own.
    ticket(15, 0, "10:03:40", "ticket_refunded", "opera", "r3", "carol", "", 0, 1),
]

TABLES = dict(postings=postings, bets=bets, ticket_sales=ticket_sales, pool_entries=pool_entries,
              show_tiers=show_tiers, show_reservations=show_reservations)

# ---- the rows each statement must return, worked out by hand -------------
# Cells as JSONCompact prints them, compared as text (64-bit integers come
# quoted, narrower ones not). Reports over NOV; `top_accounts` with limit 1.
EXPECTED = {
    "box_office_tickets_per_minute": [
        ["gala", f"{D} 10:00:00", "EUR", 3, 0, 3, 2997],
        ["gala", f"{D} 10:02:00", "EUR", 0, 1, -1, -999],
        ["opera", f"{D} 10:01:00", "GBP", 2, 0, 2, 3000],
        ["opera", f"{D} 10:03:00", "GBP", 0, 1, -1, 0],
    ],
    # r1: 3 circle tickets at 9.99 less one refunded; r3: 2 balcony tickets
    # at 15.00, one refunded for nothing; r2 (stalls) never sold.
    "box_office_tiers": [
        ["gala", "circle", "EUR", 2, 50, 400, 1998],
        ["opera", "balcony", "GBP", 1, 10, 1000, 3000],
    ],
    "cash_by_day": [
        ["2026-11-15", "EUR", 15000, 2, 0, 0, 15000],
        ["2026-11-16", "EUR", 0, 0, 2000, 1, -2000],
    ],
    "pools": [
        ["cup", "EUR", 400, 0, 0, 1],
        ["derby", "EUR", 1000, 100, 900, 1],
    ],
    # handle 10.00 + 5.00 + 3.00, 3.00 voided, 25.00 paid on b1.
    "sportsbook_by_day": [["2026-11-15", "EUR", 1800, 300, 2500, -1000, -6666]],
    "sportsbook_by_market": [
        ["cup-final", "EUR", 800, 300, 0, 500, 10000],
        ["derby-winner", "EUR", 1000, 0, 2500, -1500, -15000],
    ],
    # cash opens at -30.00 from the October deposit.
    "system_accounts": [
        [BO, "EUR", 0, 1998, 1998, 2],
        [BO, "GBP", 0, 3000, 3000, 1],
        ["cash", "EUR", -3000, -13000, -16000, 3],
        ["fees:rake", "EUR", 0, 100, 100, 1],
        ["house", "EUR", 0, -1000, -1000, 3],
        ["pool:cup", "EUR", 0, 400, 400, 1],
        ["pool:derby", "EUR", 0, 0, 0, 3],
    ],
    "top_accounts": [["ann", "EUR", 1500, 1000, 2500]],  # bob (-5.00) is cut by the limit
}
# account_sums.sql at a position: account, currency, posted, pending.
EXPECTED_ACCOUNT_SUMS = {
    # Stakes and the box office holds (r1 confirmed, r2 and r3 not yet) pending.
    12: [
        ["ann", "EUR", 10003, -3500],
        ["bob", "EUR", 5000, -800],
        [BO, "EUR", 2997, 2500],
        [BO, "GBP", 0, 3000],
        ["carol", "GBP", 0, -3000],
        ["cash", "EUR", -18000, 0],
        ["house", "EUR", 0, 1800],
    ],
    # Everything; each currency's posted sums to zero.
    10**9: [
        ["ann", "EUR", 10402, 0],
        ["bob", "EUR", 4877, 0],
        [BO, "EUR", 1998, 0],
        [BO, "GBP", 3000, 0],
        ["carol", "GBP", -3000, 0],
        ["cash", "EUR", -16777, 0],
        ["fees:rake", "EUR", 100, 0],
        ["house", "EUR", -1000, 0],
        ["pool:cup", "EUR", 400, 0],
        ["pool:derby", "EUR", 0, 0],
    ],
}


def render(sql, frm, to, limit):
    """reports.rs `render`: typed placeholders become literals, the untyped
    ones (in comments) stay, any other is an error."""
    literals = {
        "{from:DateTime}": f"toDateTime('{frm}', 'UTC')",
        "{to:DateTime}": f"toDateTime('{to}', 'UTC')",
        "{limit:UInt32}": str(limit),
        "{from}": "{from}", "{to}": "{to}", "{limit}": "{limit}",
    }
    out = []
    while (start := sql.find("{")) >= 0:
        end = sql.find("}", start)
        placeholder = sql[start:] if end < 0 else sql[start:end + 1]
        if placeholder not in literals:
            raise ValueError(f"unknown placeholder {placeholder}")
        out += [sql[:start], literals[placeholder]]
        sql = sql[start + len(placeholder):]
    return "".join(out) + sql


def main(root):
    ddl = sorted((root / "schemas/clickhouse").glob("*.sql"))
    reports = sorted((root / "schemas/clickhouse/reports").glob("*.sql"))
    account_sums = root / "projections/src/clickhouse/account_sums.sql"
    if not ddl or not reports:
        sys.exit(f"no SQL under {root}/schemas/clickhouse: is {root} the repository root?")
    failures = []

    def fail(label, problem):
        failures.append(label)
        print(f"FAIL {label}: {problem}")

    def query(label, sql, fmt="JSONCompact"):
        """ClickHouse's answer, or None after recording its error verbatim."""
        try:
            return sess.query(sql, fmt).bytes().decode()
        except Exception as e:  # chdb raises ChdbError with ClickHouse's message
            fail(label, e)
            return None

    def check_rows(label, text, want):
        """The rows must equal `want`; with `want` None, there must be some."""
        if text is None:
            return
        got = [[str(c) for c in row] for row in json.loads(text)["data"]]
        want = want and [[str(c) for c in row] for row in want]
        if want is None and not got:
            fail(label, "no rows")
        elif want is not None and got != want:
            fail(label, f"rows differ\n     got  {got}\n     want {want}")
        else:
            print(f"ok   {label}: {len(got)} rows")

    with tempfile.TemporaryDirectory(prefix="betledger-chdb-") as tmp:
        sess = chdb_session.Session(tmp)
        try:
            print("ClickHouse", sess.query("SELECT version()", "TSV").bytes().decode().strip(), "(chdb)")
            sess.query("CREATE DATABASE betledger")
            sess.query("USE betledger")
            # What reports.rs `run` sets on every report.
            sess.query("SET max_result_rows = 10001")
            sess.query("SET result_overflow_mode = 'break'")
            for f in ddl:
                if query(f.name, f.read_text(), "TSV") is not None:
                    print(f"ok   {f.name}")
            if failures:
                return failures
            # Without merges, the second insert stays a part of its own, so
            # every row has an unmerged copy that only FINAL folds.
            sess.query("SYSTEM STOP MERGES")
            for table, rows in TABLES.items():
                # A sample column the table lacks is an error, not dropped:
                # the rows must keep up with the DDL.
                insert = (f"INSERT INTO {table} SETTINGS input_format_skip_unknown_fields = 0 "
                          f"FORMAT JSONEachRow\n" + "\n".join(json.dumps(r) for r in rows))
                label = f"sample rows of {table}"
                if any(query(label, insert, "TSV") is None
                       for _ in range(2)):
                    continue
                raw = sess.query(f"SELECT count() FROM {table}", "TSV").bytes().decode().strip()
                if raw != str(2 * len(rows)):
                    fail(table, f"{raw} rows stored, expected {2 * len(rows)} (two copies of each)")
            for f in reports:
                want = EXPECTED.get(f.stem)
                if want is None:
                    fail(f.name, "no expected rows in scripts/clickhouse_current.py EXPECTED")
                for (frm, to), limit, rows in [(NOV, 1, want), (ALL_TIME, 1000, None)]:
                    label = f"{f.name} [{frm[:10]}, {to[:10]})"
                    try:
                        sql = render(f.read_text(), frm, to, limit)
                    except ValueError as e:
                        fail(label, e)
                        continue
                    check_rows(label, query(label, sql), rows)
            for position, want in EXPECTED_ACCOUNT_SUMS.items():
                # The clickhouse crate binds the `?` as a bare integer literal.
                label = f"{account_sums.name} (position <= {position})"
                sql = account_sums.read_text()
                if sql.count("?") != 1:
                    fail(label, "expected exactly one `?` (the position bound)")
                    continue
                check_rows(label, query(label, sql.replace("?", str(position))), want)
        finally:
            sess.close()
    return failures


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    failed = main(Path(sys.argv[1]).resolve())
    print(f"{len(failed)} failed: {', '.join(failed)}" if failed else "all statements ran with the expected rows")
    sys.exit(1 if failed else 0)
