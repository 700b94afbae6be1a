"""``percgrad play``: a live playground in the terminal. state.py (the settings and what each key
does to them, plain Python) and compute.py (the engine's numbers, off the UI thread) import no
Textual; app.py, widgets.py, plane.py, pages.py and render.py draw them with Textual, imported
only when ``play`` runs."""
