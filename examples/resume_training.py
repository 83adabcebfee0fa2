"""Resume a run from a checkpoint (contains schedlint findings)."""

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau

model = nn.Linear(16, 1)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
ckpt = torch.load("last.pt")
start_epoch = ckpt["epoch"] + 1
optimizer.load_state_dict(ckpt["optimizer"])
scheduler = CosineAnnealingLR(optimizer, T_max=100, last_epoch=start_epoch)
plateau = ReduceLROnPlateau(optimizer, factor=0.5)

for epoch in range(start_epoch, 100):
    loss = model(torch.randn(4, 16)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step(epoch)
    plateau.step()
    print("lr", scheduler.get_lr())
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch}, "last.pt")
