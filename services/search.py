"""Search and count queries of the lists: a name, reference or number contained in a normalised key, counted fast.

Pure query building over the models (no Flask): the screens' search boxes and filters call these.
"""
from peewee import OP, SQL, Expression, PostgresqlDatabase, fn

from models import Beneficiary, ServiceRequest, db


def may_be_code(term: str) -> bool:
    """Return whether a search term could be part of a reference or a number (BEN-000123, REQ-2026-000123).

    Those are ASCII: an Arabic name fragment never matches one. Leaving the comparison out lets a
    name search read the name index alone instead of every row (issue 9 benchmarks: searching 300,000
    requests for a family name took 145 ms of CPU with the number compared, 18 ms without).
    """
    return term.isascii()


def key_contains(field, term: str):
    """Return `field LIKE '%term%'` for a column holding a normalised key (name_key, reference, number).

    The key and the term are already folded (services.normalize), so the comparison need not fold
    case: .contains() is ILIKE on PostgreSQL, six times slower on Arabic text (issue 9 benchmarks).
    SQLite's LIKE (what .contains() gives there) folds ASCII letters only, at no cost.
    """
    if isinstance(db.obj, PostgresqlDatabase):
        return Expression(field, OP.LIKE, field._escape_like_expr(term, "%%%s%%"))
    return field.contains(term)


def in_matching(field, subquery):
    """Return `field IN (subquery)` written so the database runs the subquery once, then the field's index.

    SQLite does that with IN. PostgreSQL instead walked the whole list in page order testing each row
    (1.7 s for a family name over 300,000 requests); `= ANY(ARRAY(subquery))` is computed once, then
    looked up in the field's index (0.14 s), issue 9 benchmarks.
    """
    if isinstance(db.obj, PostgresqlDatabase):
        return field == fn.ANY(fn.ARRAY(subquery))
    return field.in_(subquery)


def beneficiaries_matching(term: str):
    """Return the ids of the beneficiaries whose name (or, for a code-like term, reference) contains a term."""
    clause = key_contains(Beneficiary.name_key, term)
    if may_be_code(term):
        clause |= key_contains(Beneficiary.reference, term.upper())
    return Beneficiary.select(Beneficiary.id).where(clause)


def beneficiary_matches(field, term: str):
    """Return the condition "field's beneficiary has the term in their name (or reference)"."""
    return in_matching(field, beneficiaries_matching(term))


def request_matches(field, term: str):
    """Return the condition "field's request has the term in its number" (none for a term no number holds)."""
    numbered = ServiceRequest.select(ServiceRequest.id).where(key_contains(ServiceRequest.number, term.upper()))
    return in_matching(field, numbered) if may_be_code(term) else field.in_([])


def count_rows(query) -> int:
    """Return how many rows a query (no grouping, no limit) yields, as SELECT COUNT(*) FROM … WHERE ….

    peewee's count() wraps the query (SELECT COUNT(1) FROM (SELECT 1 …)), which SQLite steps through
    row by row: 15 ms for the 500,000 audit rows against 3 ms for a plain COUNT(*), its b-tree count
    (issue 9 benchmarks); PostgreSQL can answer COUNT(*) from an index alone.
    """
    return query.select(fn.COUNT(SQL("*"))).order_by().scalar()


def distinct_values(field, limit: int = 500) -> list:
    """Return a column's distinct values (not null) in order, through its index (a filter's choices).

    One index probe per value (a "loose index scan": the next value above the last one), not a read
    of the whole index: a city filter over 100,000 beneficiaries with six cities reads six entries.
    """
    table, column = field.model._meta.table_name, field.column_name
    sql = (f'WITH RECURSIVE v(x) AS (SELECT MIN("{column}") FROM "{table}" '
           f'UNION ALL SELECT (SELECT MIN("{column}") FROM "{table}" WHERE "{column}" > v.x) FROM v '
           f'WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL LIMIT {int(limit)}')
    return [value for (value,) in db.execute_sql(sql).fetchall()]
