"""What the rules announce, for whoever must act on it: side effects travel as signals (blinker).

A rule that causes a side effect (a message to queue, a survey to send, a job for the worker) sends a
signal instead of importing the module that acts, so the arrows between services point one way
(tests/test_layers.py). Receivers run synchronously, in the sender's thread: a receiver that writes a row
(the outbox, a survey invitation) writes it inside the sender's transaction, which commits or rolls back
both together.

Each signal's docstring says who sends it, with what, and who receives it.

Wiring: a receiver connects when its module is imported (`@signal.connect`), and services/__init__.py
imports the receiving services (notifications, surveys), so whichever module a caller imports first, the
receivers are connected before any rule can send. Within the services, receivers connect in import order
(notifications before surveys, which imports it): on a rejection the decision is queued before the survey
invitation, as before. A receiver in a higher layer (tasks.jobs) connects when the program imports it.
"""
from blinker import Namespace

_signals = Namespace()

job_submitted = _signals.signal("job-submitted")
job_submitted.__doc__ = """services.jobs.submit, sender: the job's id; received by tasks.jobs, which hands it to the
worker's queue. With no receiver (a process without the queue) the worker's sweep starts the job within a minute."""

# ---- a case's steps (services.eligibility), for the messages and surveys they cause -------------------
request_submitted = _signals.signal("request-submitted")
request_submitted.__doc__ = """services.eligibility.submit, inside its transaction, sender: the request, with actor;
received by services.notifications, which queues the submission receipt (P5.5)."""

visit_appointment_made = _signals.signal("visit-appointment-made")
visit_appointment_made.__doc__ = """services.eligibility.schedule_visit, inside its transaction, for an interview or a
field visit the beneficiary is to be told of; sender: the visit, with actor; received by services.notifications,
which queues the appointment."""

request_decided = _signals.signal("request-decided")
request_decided.__doc__ = """services.eligibility.decide, inside its transaction, once the decision and the status are
saved; sender: the request, with actor; received by services.notifications (the decision message, P6.4) and
services.surveys (a rejected request's survey invitation, P2.5)."""

decision_reopened = _signals.signal("decision-reopened")
decision_reopened.__doc__ = """services.eligibility.reopen, inside its transaction; sender: the request (back under
evaluation), with actor; received by services.notifications, which withdraws the decision message or follows it
with the review notice."""

request_delivered = _signals.signal("request-delivered")
request_delivered.__doc__ = """services.eligibility.record_delivery, inside its transaction, on the first delivery;
sender: the request, with actor; received by services.surveys, which sends the survey invitation (P2.5)."""
