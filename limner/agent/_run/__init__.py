"""A run's folder (private): ``store`` (atomic files, candidates, rounds, events, the runs index),
``manifest`` (``manifest.json``, ``final.png``), ``report`` (``report.html``, ``contact.png``), ``migrations``
(the SQLite schemas Limner owns)."""
