# The PyTorch definitions rampart's model zoo mirrors, and a loader that puts a rampart
# checkpoint into them with load_state_dict(strict=True):
#   preact-resnet18  RobustBench's / Rice et al.'s PreActResNet-18 (PreActBlock)
#   resnet18         kuangliu's CIFAR ResNet-18 (BasicBlock, used by TRADES' and MART's code)
#   wrn-D-W          RobustBench's WideResNet (TRADES' file adds an unused sub_block1; without it)
#   resnet50         torchvision.models.resnet50 (v1.5), from torchvision itself
# Any other spec (small-cnn, a flat JSON list of layers) is rebuilt layer by layer.
# Written from the published definitions' structure (module names, order, forward); the
# point is that these are the classes users load checkpoints into.
import json
import re

import h5py
import numpy as np


def definitions(torch):
    nn = torch.nn
    F = torch.nn.functional

    class PreActBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(in_planes)
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            if stride != 1 or in_planes != planes:
                self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False))

        def forward(self, x):
            out = F.relu(self.bn1(x))
            shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
            out = self.conv1(out)
            out = self.conv2(F.relu(self.bn2(out)))
            return out + shortcut

    class PreActResNet(nn.Module):
        def __init__(self, num_blocks=(2, 2, 2, 2), num_classes=10, in_channels=3):
            super().__init__()
            self.in_planes = 64
            self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
            self.layer1 = self._make_layer(64, num_blocks[0], 1)
            self.layer2 = self._make_layer(128, num_blocks[1], 2)
            self.layer3 = self._make_layer(256, num_blocks[2], 2)
            self.layer4 = self._make_layer(512, num_blocks[3], 2)
            self.bn = nn.BatchNorm2d(512)
            self.linear = nn.Linear(512, num_classes)

        def _make_layer(self, planes, n, stride):
            layers = []
            for s in [stride] + [1] * (n - 1):
                layers.append(PreActBlock(self.in_planes, planes, s))
                self.in_planes = planes
            return nn.Sequential(*layers)

        def forward(self, x):
            out = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
            out = F.relu(self.bn(out))
            out = F.avg_pool2d(out, out.shape[-1])
            return self.linear(out.flatten(1))

    class BasicBlock(nn.Module):
        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != planes:
                self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(planes))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    class ResNet(nn.Module):
        def __init__(self, num_blocks=(2, 2, 2, 2), num_classes=10, in_channels=3):
            super().__init__()
            self.in_planes = 64
            self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.layer1 = self._make_layer(64, num_blocks[0], 1)
            self.layer2 = self._make_layer(128, num_blocks[1], 2)
            self.layer3 = self._make_layer(256, num_blocks[2], 2)
            self.layer4 = self._make_layer(512, num_blocks[3], 2)
            self.linear = nn.Linear(512, num_classes)

        def _make_layer(self, planes, n, stride):
            layers = []
            for s in [stride] + [1] * (n - 1):
                layers.append(BasicBlock(self.in_planes, planes, s))
                self.in_planes = planes
            return nn.Sequential(*layers)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
            out = F.avg_pool2d(out, out.shape[-1])
            return self.linear(out.flatten(1))

    class WideBasicBlock(nn.Module):
        def __init__(self, in_planes, out_planes, stride):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(in_planes)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_planes)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
            self.equalInOut = in_planes == out_planes
            self.convShortcut = None if self.equalInOut else nn.Conv2d(in_planes, out_planes, 1, stride=stride,
                                                                       padding=0, bias=False)

        def forward(self, x):
            if self.equalInOut:
                out = self.relu1(self.bn1(x))
            else:
                x = self.relu1(self.bn1(x))
            out = self.relu2(self.bn2(self.conv1(out if self.equalInOut else x)))
            out = self.conv2(out)
            return (x if self.equalInOut else self.convShortcut(x)) + out

    class NetworkBlock(nn.Module):
        def __init__(self, n, in_planes, out_planes, stride):
            super().__init__()
            self.layer = nn.Sequential(*[WideBasicBlock(in_planes if i == 0 else out_planes, out_planes,
                                                        stride if i == 0 else 1) for i in range(n)])

        def forward(self, x):
            return self.layer(x)

    class WideResNet(nn.Module):
        def __init__(self, depth=34, widen_factor=10, num_classes=10, in_channels=3):
            super().__init__()
            ch = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
            assert (depth - 4) % 6 == 0
            n = (depth - 4) // 6
            self.conv1 = nn.Conv2d(in_channels, ch[0], 3, stride=1, padding=1, bias=False)
            self.block1 = NetworkBlock(n, ch[0], ch[1], 1)
            self.block2 = NetworkBlock(n, ch[1], ch[2], 2)
            self.block3 = NetworkBlock(n, ch[2], ch[3], 2)
            self.bn1 = nn.BatchNorm2d(ch[3])
            self.relu = nn.ReLU(inplace=True)
            self.fc = nn.Linear(ch[3], num_classes)
            self.nChannels = ch[3]

        def forward(self, x):
            out = self.block3(self.block2(self.block1(self.conv1(x))))
            out = self.relu(self.bn1(out))
            out = F.avg_pool2d(out, out.shape[-1])
            return self.fc(out.view(-1, self.nChannels))

    return PreActResNet, ResNet, WideResNet


def standard_model(torch, name, num_classes, in_channels):
    """The published definition of a zoo model, or None for a name outside the zoo's residual networks."""
    PreActResNet, ResNet, WideResNet = definitions(torch)
    if name == "preact-resnet18":
        return PreActResNet(num_classes=num_classes, in_channels=in_channels)
    if name == "resnet18":
        return ResNet(num_classes=num_classes, in_channels=in_channels)
    m = re.fullmatch(r"wrn-(\d+)-(\d+)", name)
    if m:
        return WideResNet(int(m.group(1)), int(m.group(2)), num_classes=num_classes, in_channels=in_channels)
    if name == "resnet50":
        import torchvision
        model = torchvision.models.resnet50(num_classes=num_classes)
        if in_channels != 3:
            model.conv1 = torch.nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        return model
    return None


def flat_model(torch, spec):
    """A flat list of layers (small-cnn and other JSON specs without residual blocks)."""
    nn = torch.nn
    layers = []
    for i, l in enumerate(spec):
        t = l["type"]
        if t == "conv2d":
            m = nn.Conv2d(l["in_channels"], l["out_channels"], l["kernel_size"], stride=l.get("stride", 1),
                          padding=l.get("padding", 0), bias=l.get("bias", True))
        elif t == "linear":
            m = nn.Linear(l["in_features"], l["out_features"], bias=l.get("bias", True))
        elif t == "relu":
            m = nn.ReLU()
        elif t == "maxpool2d":
            m = nn.MaxPool2d(l["kernel_size"], stride=l.get("stride", l["kernel_size"]), padding=l.get("padding", 0))
        elif t == "avgpool2d":
            m = nn.AvgPool2d(l["kernel_size"], stride=l.get("stride", l["kernel_size"]))
        elif t == "flatten":
            m = nn.Flatten()
        elif t == "batchnorm2d":
            m = nn.BatchNorm2d(l["num_features"], eps=l.get("eps", 1e-5),
                               momentum=l.get("momentum", 0.1))
        else:
            raise SystemExit(f"torch_models.py: layer {i} has type {t!r}, which is not rebuilt here (expected a zoo "
                             "model or a flat list of conv2d, linear, relu, maxpool2d, avgpool2d, flatten, batchnorm2d)")
        if "name" in l:
            raise SystemExit("torch_models.py: a named layer in a flat spec; expected a zoo model")
        layers.append(m)
    return nn.Sequential(*layers)


def model_name(config_text):
    """The `model` key of a checkpoint's resolved configuration ("" when absent)."""
    for line in config_text.splitlines():
        k, _, v = line.partition("=")
        if k.strip() == "model":
            return v.strip()
    return ""


def read_state(path):
    """(arch spec, config text, {state_dict key: numpy array}) of a rampart checkpoint."""
    with h5py.File(path, "r") as f:
        spec = json.loads(f.attrs["arch_json"])
        config = f.attrs.get("config", "")
        if isinstance(config, bytes):
            config = config.decode()
        state = {k: np.asarray(f["model"][k]) for k in f["model"]}
    return spec, config, state


def from_checkpoint(torch, path, in_channels=None):
    """The model of a rampart checkpoint in its standard PyTorch definition, loaded with
    load_state_dict(strict=True), in eval mode; and the name it was built as."""
    spec, config, state = read_state(path)
    name = model_name(config)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    # The zoo's residual networks have one linear layer (the classifier) and a first
    # convolution called conv1.
    linear = [v for k, v in state.items() if k.endswith(".weight") and v.ndim == 2]
    classes = linear[0].shape[0] if len(linear) == 1 else None
    if in_channels is None and "conv1.weight" in state:
        in_channels = state["conv1.weight"].shape[1]
    model = standard_model(torch, name, classes, in_channels) if name else None
    if model is None:
        model = flat_model(torch, spec)
        name = name or "spec"
    model.load_state_dict(tensors, strict=True)
    return model.eval(), name
