"""A correct two-group training loop: schedlint reports nothing here."""

import torch
from torch import nn
from torch.optim.lr_scheduler import LinearLR, CosineAnnealingLR, SequentialLR

model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
loader = [(torch.randn(8, 32), torch.randint(0, 10, (8,))) for _ in range(20)]
epochs = 10

optimizer = torch.optim.AdamW(
    [
        {"params": model[0].parameters(), "lr": 1e-4},
        {"params": model[2].parameters(), "lr": 1e-3},
    ],
    weight_decay=0.05,
)
warmup = LinearLR(optimizer, start_factor=0.1, total_iters=2)
cosine = CosineAnnealingLR(optimizer, T_max=epochs - 2)
scheduler = SequentialLR(optimizer, [warmup, cosine], milestones=[2])

for epoch in range(epochs):
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    scheduler.step()
    print(epoch, scheduler.get_last_lr())
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, "last.pt")
