"""The Streamlit app: pages (``ims_geo/ui/pages/``) and the pieces they share.

The only part of ims_geo that imports Streamlit; pages call library
functions and render their results.
"""
