"""Classroom exercises: packs an instructor writes, bundles students hand in, class import and report."""
