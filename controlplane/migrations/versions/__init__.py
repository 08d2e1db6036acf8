"""Revision files; a package so that setuptools ships them."""
