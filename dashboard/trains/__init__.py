"""Every registered train: junctions, input and output types, recent results; queue a run."""
