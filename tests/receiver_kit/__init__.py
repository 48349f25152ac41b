"""Tests of receiver_kit: real Flask apps, real WSGI servers and a real Redis."""
