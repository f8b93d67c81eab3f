"""The web view: server-rendered pages of executions, workflows and triggers at ``/ui/``."""
