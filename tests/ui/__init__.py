"""Tests of the Streamlit app: pages under AppTest and one real browser."""
