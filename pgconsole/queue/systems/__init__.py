"""Queue systems pgconsole watches and acts on: its own queue and the libraries teams already run
(base.py: the interface; registry.py: detection). Nothing here imports Textual."""
