"""turboyolo: train YOLO object detectors in as little wall-clock time as the hardware allows."""
__version__ = "0.1.0"
