"""Territory Modeler core: data contract, import and validation, scoring, segments, solver,
scenarios, KPIs and storage. Never imports Streamlit."""

__version__ = "0.1.0"
