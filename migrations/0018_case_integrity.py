"""Case integrity (issue 14): who set a visit's outcome and when, an admin's written reason for deciding a case
they took part in, and the message telling a beneficiary that a decided request is being reviewed again."""
import datetime

from peewee import *

# Frozen here: later edits are the administrator's, on the templates screen.
REVIEW_TEMPLATES = [
    ("review_reopened", "ar", "مراجعة طلبك {request_number} من جديد",
     "السلام عليكم {name}،\n"
     "نعيد دراسة طلبك رقم {request_number} لخدمة {service}، وسنبلغك بالقرار الجديد.\n"
     "للاستفسار: {association_phone}\n{association}"),
    ("review_reopened", "en", "Your request {request_number} is being reviewed again",
     "Dear {name},\n"
     "We are reviewing your request {request_number} for {service} again, and will tell you the new decision.\n"
     "Questions: {association_phone}\n{association}"),
]


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    migrator.migrate(
        migrator.add_column('verification_visit', 'outcome_by_id',
                            ForeignKeyField(User, null=True, field=User.id, on_delete='SET NULL')),
        migrator.add_column('verification_visit', 'outcome_at', DateTimeField(null=True)),
        migrator.add_column('service_request', 'decision_override_reason', TextField(null=True)),
    )

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

    if "version" in {c.name for c in db.get_columns('notification_template')}:
        NotificationTemplate._meta.add_field("version", IntegerField(default=1))
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    existing = set(NotificationTemplate.select(NotificationTemplate.kind, NotificationTemplate.language).tuples())
    rows = [{"kind": kind, "language": language, "subject": subject, "body": body, "created_at": now,
             "created_by": "migration", "updated_at": now, "updated_by": "migration"}
            for kind, language, subject, body in REVIEW_TEMPLATES if (kind, language) not in existing]
    if rows:
        NotificationTemplate.insert_many(rows).execute()


def down(migrator, db):
    db.execute_sql("DELETE FROM notification_template WHERE kind = 'review_reopened'")
    migrator.migrate(
        migrator.drop_column('service_request', 'decision_override_reason'),
        migrator.drop_column('verification_visit', 'outcome_at'),
        migrator.drop_column('verification_visit', 'outcome_by_id'),
    )
