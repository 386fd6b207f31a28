import streamlit as st

st.title("whitespace_map")
st.info("This page is being built.")
