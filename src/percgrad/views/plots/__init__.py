"""``--plot``: matplotlib figures of a report, one module per kind of report."""
