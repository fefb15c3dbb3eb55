"""What the pages share, one concern per module.

- ``frame``: run a page inside ``app.py``'s frame, even on a fresh server.
- ``run_choice``: the runs on disk, their labels, and which run each model uses.
- ``loading``: models, MNIST and test-set predictions, loaded once and shared by every session.
- ``sidebar``: the sidebar every page shows.
- ``pytorch_preload``: importing PyTorch in the background so the first page paints sooner.
- ``images``: enlarging 28x28 digits for display.
"""
