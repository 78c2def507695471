"""The app's pages, run by ``st.navigation`` in ``app.py`` (scripts, not imported)."""
