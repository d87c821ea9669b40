"""turboyolo: train YOLO object detectors in as little wall-clock time as the hardware allows."""
__version__ = "0.1.0"

__all__ = ["Detector"]


def __getattr__(name):
    # imported on first use, so `import turboyolo` (and the CLI's help) stays instant
    if name == "Detector":
        from turboyolo.api import Detector

        return Detector
    raise AttributeError(f"module 'turboyolo' has no attribute {name!r}")
