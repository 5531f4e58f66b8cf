"""Migration from emoncms, the original IoE platform's server: its feeds become readings.

``feeds`` describes a feed and suggests what it measures; ``api`` reads an installation over
its feed API with a read key, ``files`` its PHPFina/PHPTimeSeries files copied to the add-on;
both give each feed's quarter hours as emoncms computes them (a power feed's mean, a counter's
value at each quarter's start), which ``energy`` turns into quarter-hour kWh. ``imports`` runs
an import: feeds mapped to members and measures, stored as the members' own-meter readings,
a local month per transaction, the same data again changing nothing.
"""
