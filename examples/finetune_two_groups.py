"""Fine-tune a classifier with a slow backbone and a fast head (contains schedlint findings)."""

import torch
from torch import nn
from torch.optim import lr_scheduler

model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
backbone, head = model[0], model[2]
loader = [(torch.randn(8, 32), torch.randint(0, 10, (8,))) for _ in range(20)]
epochs = 10

optimizer = torch.optim.SGD(
    [
        {"params": backbone.parameters(), "lr": 1e-4},
        {"params": head.parameters(), "lr": 1e-2},
    ],
    momentum=0.9,
)
scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=epochs * len(loader))

for epoch in range(epochs):
    if epoch < 2:
        # linear warm-up over the first two epochs
        for g in optimizer.param_groups:
            g["lr"] = 1e-2 * (epoch + 1) / 2
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        scheduler.step()
        optimizer.step()
