import streamlit as st

st.title("scenario_editor")
st.info("This page is being built.")
