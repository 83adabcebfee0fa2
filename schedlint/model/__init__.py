"""The static checker's model: what a file (and the tree) does with optimizers and schedulers."""
