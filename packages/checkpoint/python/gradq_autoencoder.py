"""The seed model in PyTorch, for the weights `pnpm ckpt export --format safetensors` writes.

    import safetensors.torch
    from gradq_autoencoder import Autoencoder
    model = Autoencoder()                       # 784-392-196-392-784, ReLU after every layer
    model.load_state_dict(safetensors.torch.load_file("model.safetensors"))
    reconstruction = model(pixels / 255.0)      # pixels: float tensor [N, 784]

A run with other `--layers` exports `layers.<i>.weight`: `Autoencoder(sizes, output_activation)` builds those too.
"""
import torch
from torch import nn

SEED_NAMES = ("encoder", "bottleneck", "decoder", "output")


class Autoencoder(nn.Module):
    def __init__(self, sizes=(784, 392, 196, 392, 784), output_activation="relu"):
        super().__init__()
        linears = [nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
        if len(linears) == len(SEED_NAMES):
            for name, layer in zip(SEED_NAMES, linears):
                setattr(self, name, layer)
            self.stack = [getattr(self, name) for name in SEED_NAMES]
        else:
            self.layers = nn.ModuleList(linears)
            self.stack = list(self.layers)
        self.output_activation = output_activation

    def forward(self, x):
        for i, layer in enumerate(self.stack):
            x = layer(x)
            activation = self.output_activation if i == len(self.stack) - 1 else "relu"
            if activation == "relu":
                x = torch.relu(x)
            elif activation == "sigmoid":
                x = torch.sigmoid(x)
        return x
