"""Run configuration: one documented default (default.yaml), validated once at start."""
from turboyolo.config.loader import Config, ConfigError, adopt_saved, build_config, save_config, split_overrides
from turboyolo.config.schema import KeySpec, default_of, load_schema

__all__ = ["Config", "ConfigError", "adopt_saved", "KeySpec", "build_config", "default_of", "load_schema", "save_config", "split_overrides"]
