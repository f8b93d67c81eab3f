"""Sirocco cli."""
