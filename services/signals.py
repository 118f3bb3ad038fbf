"""What the rules announce, for whoever must act on it: side effects travel as signals (blinker).

A rule that causes a side effect (a message to queue, a survey to send, a job for the worker) sends a
signal instead of importing the module that acts, so the arrows between services point one way
(tests/test_layers.py). Receivers run synchronously, in the sender's thread: a receiver that writes a row
(the outbox, a survey invitation) writes it inside the sender's transaction, which commits or rolls back
both together.

Each signal's docstring says who sends it, with what, and who receives it.
"""
from blinker import Namespace

_signals = Namespace()

job_submitted = _signals.signal("job-submitted")
job_submitted.__doc__ = """services.jobs.submit, sender: the job's id; received by tasks.jobs, which hands it to the
worker's queue. With no receiver (a process without the queue) the worker's sweep starts the job within a minute."""
