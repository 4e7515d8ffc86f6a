"""DRF views over model_core: authentication, throttling and JSON errors are DRF's; the rest is the core's."""
