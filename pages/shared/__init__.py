"""What the pages share, one concern per module.

- ``frame``: run a page inside ``app.py``'s frame, even on a fresh server.
- ``run_choice``: the runs on disk, their labels, and which run each model uses.
- ``loading``: models, MNIST and test-set predictions, loaded once and shared by every session.
- ``sidebar``: the sidebar every page shows.
- ``job_view``: the server's training jobs, live, with their Stop buttons (Train).
- ``difference_view``: is a difference real, and where two runs differ (Compare).
- ``gallery``: test images with every run's answer, doubtful labels marked.
- ``pytorch_preload``: importing PyTorch in the background so the first page paints sooner.
- ``images``: enlarging 28x28 digits for display.
- ``markdown``: showing outside text (run and file names, reasons) as text, never as markup.
"""
