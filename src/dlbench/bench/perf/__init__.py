"""``bench perf``: dlbench's training engine against a loop written like the lab's scripts.

Both sides train the same model with the same batch size, optimizer and number of images, in the
same process, one after the other. The reference uses a torchvision-style Dataset that builds a
PIL image per sample, ToTensor + Normalize, a shuffling DataLoader, default Adam and a plain eager
step; dlbench keeps the data as one uint8 tensor, draws batches by index, normalises whole batches
and uses its fused optimizer. Models come from the plugin catalog, training from the engine.

- ``.cases``: what is timed;
- ``.reference``: the lab-style loop;
- ``.measure``: the engine's speed, FLOPs, the GEMM peak, where a step goes;
- ``.distill``: cached against online teacher outputs;
- ``.accuracy``: both sides on real MNIST, accuracy compared over seeds;
- ``.tables``: what ``bench perf`` prints, one function per table.
"""
