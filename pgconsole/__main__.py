from pgconsole.cli import entry

entry()
