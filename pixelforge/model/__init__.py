"""The networks (reference CycleGAN's ResnetGenerator and PatchGAN) and the checkpoint format."""
