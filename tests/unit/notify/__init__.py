"""Unit tests of notify's pure parts."""
