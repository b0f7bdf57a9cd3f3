"""Models: the pure-torch recognition core and its Detectron2 glue."""
