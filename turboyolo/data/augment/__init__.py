"""data/augment"""
