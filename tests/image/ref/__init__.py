# Independent PyTorch references for Basalt's image models (see run.py).
