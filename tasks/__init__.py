"""The background queue (huey) and its tasks: each task module calls services; none imports the programs.

queue.py holds the huey instance and the decorators; the program that starts the worker (worker.py) gives
it the application factory and imports the task modules. The web application imports those it hands work
to: tasks.jobs in app.create_app (its receiver of services.signals.job_submitted), tasks.imports and
tasks.sync from their screens.
"""
