"""SSLC compression front end (torch + transformers): calibrate, decompose, evaluate, export."""
