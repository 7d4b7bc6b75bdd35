"""The replay report: ``data`` reads the replay's files, ``svg`` draws the charts, ``tables``
the tables, ``page`` puts them in one self-contained HTML file."""
