"""Many rows into one table with one prepared statement, for imports of tens of thousands of rows.

peewee's insert_many renders every value of every row into the SQL text in Python: most of the time
of a 50,000-row import. Here the statement is built once, for one row, and the driver repeats it
(sqlite3's executemany; psycopg 3 pipelines executemany).
"""
import datetime

from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models import db

# A value already of its column's type goes to the driver as it is; any other goes through the field.
_NATIVE = ((ForeignKeyField, int), (BooleanField, bool), (IntegerField, int), (DateTimeField, datetime.datetime),
           (DateField, datetime.date), (CharField, str), (TextField, str))


def _native_type(field):
    return next((kind for cls, kind in _NATIVE if isinstance(field, cls)), None)


def insert_rows(model, rows: list[dict]) -> None:
    """Insert rows ({field name: value}; a field left out takes its default) with one executemany."""
    if not rows:
        return
    fields = [f for f in model._meta.sorted_fields if f is not model._meta.primary_key]
    sql, _params = model.insert_many([(None,) * len(fields)], fields=fields).sql()
    # Defaults are taken once for all rows (a time default is the same instant for the whole chunk).
    columns = [(f.name, f.db_value, f.default() if callable(f.default) else f.default, _native_type(f))
               for f in fields]

    def values(row):
        out = []
        for name, convert, default, native in columns:
            value = row.get(name, default)
            out.append(value if value is None or type(value) is native else convert(value))
        return out

    db.cursor().executemany(sql, [values(row) for row in rows])


def update_column(model, column, values: dict) -> None:
    """Set one column of many rows ({id: value}) with one executemany."""
    if not values:
        return
    key = model._meta.primary_key
    sql, _params = model.update({column: None}).where(key == 0).sql()
    db.cursor().executemany(sql, [(column.db_value(v), key.db_value(i)) for i, v in values.items()])
