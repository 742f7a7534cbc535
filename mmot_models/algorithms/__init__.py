"""Algorithms that drive a backend for a formulation: plain LP solves, column generation, scans."""
