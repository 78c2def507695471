"""Programme: combined works proposed from the conflicts, with savings against the baseline."""

import streamlit as st

st.title("Combined programme")
