"""The Arabic and English templates of the correction notice, sent when a data-correction request is applied
(PDPL right of correction, services.corrections). Data only: no table changes."""
import datetime

from peewee import *

# Frozen here: later edits are the administrator's, on the templates screen.
# {corrected} names the fields, never their values: the notice may go to a shared phone or a letter.
CORRECTION_TEMPLATES = [
    ("correction", "ar", "تصحيح بياناتك لدى {association}",
     "السلام عليكم {name}،\n"
     "بناءً على طلبك رقم {interaction_number} صححنا في ملفك: {corrected}.\n"
     "إن لم تطلب هذا التصحيح فنرجو الاتصال بنا: {association_phone}"),
    ("correction", "en", "Your details were corrected at {association}",
     "Dear {name},\n"
     "As you asked in {interaction_number}, we corrected in your file: {corrected}.\n"
     "If you did not ask for this correction, please call us: {association_phone}"),
]


def up(migrator, db):
    class NotificationTemplate(Model):
        created_at = DateTimeField(index=True)
        created_by = CharField(null=True, max_length=80)
        updated_at = DateTimeField(index=True)
        updated_by = CharField(null=True, max_length=80)
        kind = CharField(max_length=30)
        language = CharField(max_length=5)
        subject = CharField(max_length=200)
        body = TextField()

        class Meta:
            database = db
            table_name = 'notification_template'

    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    existing = set(NotificationTemplate.select(NotificationTemplate.kind, NotificationTemplate.language).tuples())
    # A later migration may give every edited table a version column (issue 9); fill it if it is there.
    if "version" in {c.name for c in db.get_columns('notification_template')}:
        NotificationTemplate._meta.add_field("version", IntegerField(default=1))
    rows = [{"kind": kind, "language": language, "subject": subject, "body": body, "created_at": now,
             "created_by": "migration", "updated_at": now, "updated_by": "migration"}
            for kind, language, subject, body in CORRECTION_TEMPLATES if (kind, language) not in existing]
    if rows:
        NotificationTemplate.insert_many(rows).execute()


def down(migrator, db):
    db.execute_sql("DELETE FROM notification_template WHERE kind = 'correction'")
