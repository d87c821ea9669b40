"""Data side: dataset formats, label checks, image cache, augmentation and the loader."""
