"""The bundled model graphs and sample clip (installed with the app as package data)."""
import os

ASSETS_DIR = os.path.dirname(os.path.abspath(__file__))
