"""Sirocco: a workflow service that speaks OpenStack Mistral's language and API."""

__version__ = "0.1.0"
