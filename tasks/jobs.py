"""Background jobs (services.jobs) in the worker: one task per submitted job, and a sweep every minute.

The only module of services/ that knows the worker: the rules stay in services.jobs.
"""
import logging

from huey import crontab

from worker import app_periodic_task, app_task, flask_app

from . import jobs

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
