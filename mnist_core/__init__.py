"""mnist_core: the library behind the MNIST model comparison dashboard.

One module per concern: ``data`` (MNIST in memory), ``models`` (the three architectures
and their registry), ``training``, ``evaluation``, ``runs`` (run folders and
checkpoints), ``preprocess`` (drawn or photographed digits), ``predict``, ``charts``
(Plotly figures) and ``cli`` (``python -m mnist_core``). It never imports Streamlit.
"""

__version__ = "0.1.0"
