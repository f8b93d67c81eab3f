"""Sirocco actions."""
