"""The `gfs` command line: flags generated from config fields, and the commands."""
