"""Small Streamlit helpers shared by the pages (session state, sidebar). Pages only; the core
never imports this package."""
