"""The background queue (huey) and its tasks: each task module calls services; none imports the programs.

queue.py holds the huey instance and the decorators; the program that starts the worker (worker.py) gives
it the application factory and imports the task modules. The web application imports them too
(app.create_app), so that it can hand work to the queue.
"""
