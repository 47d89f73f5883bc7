# The example Django project served over SCGI by flup (PyPI), for the scgi_pass tests:
#   python scgi_server.py 127.0.0.1:PORT | unix:/path.sock
# Run from conf/examples/django (the project) with the e2e virtualenv's Python.
import os
import sys

sys.path.insert(0, os.getcwd())

from flup.server.scgi import WSGIServer

from e2esite.wsgi import application

address = sys.argv[1]
if address.startswith("unix:"):
    bind = address[5:]
else:
    host, port = address.rsplit(":", 1)
    bind = (host, int(port))
WSGIServer(application, bindAddress=bind, umask=0o111, allowedServers=None).run()
