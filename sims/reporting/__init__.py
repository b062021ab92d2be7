"""The Markdown/JSON report and figures, rebuilt from finished results folders."""
