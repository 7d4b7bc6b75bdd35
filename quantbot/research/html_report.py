"""A replay's report as one self-contained HTML file (see ``quantbot.research.report``)."""

from quantbot.research.report.page import write_report

__all__ = ["write_report"]
