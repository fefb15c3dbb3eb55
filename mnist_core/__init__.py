"""mnist_core: the library behind the MNIST model comparison dashboard.

One module per concern: ``paths`` (where data and runs live), ``data`` (MNIST in memory),
``models`` (the registry) and ``networks`` (the PyTorch modules), ``fused`` (the CNN's fused
CPU training layers), ``recipes`` (training settings) and ``training`` (the loop), ``jobs``
(training in a background thread), ``evaluation``, ``comparison`` (paired tests between runs),
``label_issues`` (test images with doubtful labels), ``runs`` (run folders, and which run each
model uses) with ``run_schema`` (what a run.json may hold), ``preprocess`` (drawn or
photographed digits), ``predict``, ``charts`` (Plotly figures), ``bench`` and ``cli``
(``python -m mnist_core``). It never imports Streamlit.
"""

__version__ = "0.1.0"
