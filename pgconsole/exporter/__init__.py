"""`pgconsole exporter`: the snapshot, the checks and the queue as Prometheus metrics.

* ``queue_series.py``: the queue's rows per queue system (pgconsole's own now; other systems plug in there).
* ``target.py``: one target (profile): its kept connection, previous snapshot and counters; one bounded scrape.
* ``metrics.py``: a scrape's models -> the Prometheus text format (names and labels: docs/metrics.md).
* ``server.py``: the HTTP server, ``/metrics`` and ``/health``.

No Textual and no SQL here: the figures come from ``monitor`` and the verdicts from ``checks``.
"""
