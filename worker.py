"""The background worker: the program that runs the queue's tasks (tasks/), outside any web request.

Run it with `.venv/bin/huey_consumer worker.huey` (`make run` starts it beside gunicorn). The queue and the
decorators live in tasks/queue.py; this program gives them the application factory and imports every task
module, so the consumer knows them all.

Adding a job: a module in tasks/ that registers its functions with `from .queue import app_task` (or
`huey` for a plain task), imported below.
"""
from app import create_app
from tasks import imports, jobs, notifications, sync  # noqa: F401 (registers their tasks on the queue)
from tasks.queue import huey, use_app

__all__ = ["huey"]

use_app(create_app)
