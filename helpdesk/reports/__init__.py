"""Operational figures for supervisors: typed records (`figures`), their text tables (`text`),
CSV (`csv_export`) and JSON (`ReportFigures.as_dict`), and `helpdesk report` (`cli`)."""
