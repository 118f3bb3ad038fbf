"""gunicorn's settings for `make run` (`-c gunicorn.conf.py`); the command line adds workers, threads and the port.

The access log names the path without its query string, and no Referer: searches and filters carry ID
numbers, mobiles and names (/admin/beneficiary/?search=1000000008), and a log is read by more people, and
kept longer, than the database (issue 15). Method, path, protocol, status, size, browser and time only.
"""
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s "%(a)s" %(L)s'
