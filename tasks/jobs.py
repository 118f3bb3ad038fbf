"""Background jobs (services.jobs) in the worker: one task per submitted job, and a sweep every minute.

The rules stay in services.jobs, which announces a stored job with services.signals.job_submitted; the
receiver here hands it to the queue.
"""
import logging

from huey import crontab

from services import jobs
from services.signals import job_submitted

from .queue import app_periodic_task, app_task, flask_app

log = logging.getLogger("huey.mustafeed.jobs")


@app_task()
def run_background_job(job_id: int):
    """Run one submitted bulk action (services.jobs.run)."""
    job = jobs.run(job_id, settings=flask_app().config)
    if job is not None:
        log.info("background job %s %s: %s done, %s refused of %s", job.id, job.status, job.done_count,
                 job.refused_count, job.total)


@app_periodic_task(crontab(minute="*"))
def run_lost_jobs():
    """Every minute, start the jobs the queue never delivered and resume those a dead worker left."""
    started = jobs.run_pending(settings=flask_app().config)
    if started:
        log.info("background jobs started by the sweep: %s", ", ".join(map(str, started)))


@job_submitted.connect
def queue_submitted_job(job_id: int) -> bool:
    """Put a stored job on the queue; an error (the queue unreachable) reaches services.jobs.queue, which logs it."""
    run_background_job(job_id)
    return True
