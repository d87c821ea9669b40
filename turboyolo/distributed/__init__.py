"""Distributed training: environment, launch, sync strategies, elastic recovery.

Wraps the engine; never imported by models or datasets.
"""
