"""mnist_core: the library behind the MNIST model comparison dashboard.

One module per concern; the module map is docs/ARCHITECTURE.md. It never imports Streamlit.
"""

__version__ = "0.1.0"
